"""Locust users for bench/soak.py: shoppers reading the storefront, a store admin uploading one photo a second.

Read by `locust -f bench/soak_locustfile.py`; SOAK_TOKEN, SOAK_PRODUCTS (comma-separated
ids to ask about) and SOAK_PHOTOS (a .npz of JPEG bytes) come from bench/soak.py.
"""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
from locust import HttpUser, constant_throughput, task

PRODUCTS = [int(x) for x in os.environ.get("SOAK_PRODUCTS", "1").split(",")]
WORDS = ["shirt", "red dress", "black sneaker", "bag", "summer coat", "blue trousers", "sandal", "pullover"]
_photos = np.load(os.environ["SOAK_PHOTOS"], allow_pickle=False)["photos"] if "SOAK_PHOTOS" in os.environ else []
_uploads = itertools.count()


class Shopper(HttpUser):
    """Product pages, searches and recommendations, a bounded two requests a second each."""

    wait_time = constant_throughput(2)

    @task(6)
    def similar(self) -> None:
        product = random.choice(PRODUCTS)
        self.client.get(f"/api/v1/products/{product}/similar/?limit=12", name="/similar/")

    @task(2)
    def search(self) -> None:
        self.client.get(f"/api/v1/search/?q={random.choice(WORDS)}&limit=12", name="/search/")

    @task(2)
    def recommendations(self) -> None:
        body = {"liked": [random.choice(PRODUCTS)], "viewed": random.sample(PRODUCTS, 2), "limit": 12}
        self.client.post("/api/v1/recommendations/", json=body, name="/recommendations/")


class StoreAdmin(HttpUser):
    """A new product with one photo every second: the worker embeds while the shoppers read."""

    wait_time = constant_throughput(1)
    fixed_count = 1

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Token {os.environ['SOAK_TOKEN']}"

    @task
    def upload(self) -> None:
        number = next(_uploads)
        created = self.client.post(
            "/api/v1/products/",
            json={"sku": f"SOAK-{os.getpid()}-{number}", "title": f"Soak {number}", "price": "9"},
            name="/products/",
        )
        if created.status_code != 201:
            return
        photo = bytes(_photos[number % len(_photos)])
        self.client.post(
            f"/api/v1/products/{created.json()['id']}/images/",
            files={"image": ("photo.jpg", photo, "image/jpeg")},
            name="/products/{id}/images/",
        )
