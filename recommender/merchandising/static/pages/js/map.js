// Catalog map: every product as a point on a <canvas>, coloured by category; photos replace
// the points once few enough are on screen. Built for 70,000 points: the data arrive as compact
// arrays, hit-testing uses a uniform grid of buckets, and thumbnails are fetched only for the
// points in view once zoomed in.
import { describeProblem, el, showStatus } from './common.js';

const canvas = document.getElementById('catalog-map');
const context = canvas.getContext('2d');
const tooltip = document.querySelector('.map-tooltip');
const legend = document.querySelector('.map-legend');
const status = document.querySelector('main > .status');
const PALETTE = ['#9aa0a6', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf',
  '#bcbd22', '#393b79', '#ad494a', '#637939', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363', '#843c39'];
const THUMBNAILS_BELOW = 300; // photos instead of dots when fewer points than this are in view
const BUCKETS = 128; // the hit-test grid is BUCKETS x BUCKETS
const HIT_RADIUS = 8; // px

let data = null; // { ids: Int32Array, x: Float32Array, y: Float32Array, c: Uint16Array, grid, categories }
let buckets = null; // Array of Int32Array point indices
let view = { scale: 1, tx: 0, ty: 0 };
let width = 0;
let height = 0;
let frame = 0;
let hovered = -1;
let keyboardCursor = false;
const products = new Map(); // id -> { url, title, image }
let thumbnailTimer = 0;

function colour(category) {
  return PALETTE[category % PALETTE.length];
}

function toScreen(i) {
  return [data.x[i] * view.scale + view.tx, data.y[i] * view.scale + view.ty];
}

function fit() {
  const margin = 24;
  view.scale = Math.min((width - 2 * margin) / data.grid, (height - 2 * margin) / data.grid);
  view.tx = (width - data.grid * view.scale) / 2;
  view.ty = (height - data.grid * view.scale) / 2;
}

function resize() {
  const ratio = window.devicePixelRatio || 1;
  const box = canvas.getBoundingClientRect();
  width = box.width;
  height = box.height;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
}

// Indices of the points inside the visible region, from the buckets overlapping it.
function visiblePoints(limit = Infinity) {
  const cell = data.grid / BUCKETS;
  const x0 = Math.max(0, Math.floor((-view.tx / view.scale) / cell));
  const y0 = Math.max(0, Math.floor((-view.ty / view.scale) / cell));
  const x1 = Math.min(BUCKETS - 1, Math.floor(((width - view.tx) / view.scale) / cell));
  const y1 = Math.min(BUCKETS - 1, Math.floor(((height - view.ty) / view.scale) / cell));
  const found = [];
  for (let by = y0; by <= y1; by++) {
    for (let bx = x0; bx <= x1; bx++) {
      for (const i of buckets[by * BUCKETS + bx]) {
        const [sx, sy] = toScreen(i);
        if (sx >= 0 && sy >= 0 && sx <= width && sy <= height) {
          found.push(i);
          if (found.length > limit) return found;
        }
      }
    }
  }
  return found;
}

function draw() {
  frame = 0;
  context.clearRect(0, 0, width, height);
  const inView = visiblePoints(THUMBNAILS_BELOW);
  const pictures = inView.length <= THUMBNAILS_BELOW;
  if (pictures) {
    const size = Math.max(28, Math.min(72, Math.sqrt((width * height) / Math.max(inView.length, 1)) * 0.55));
    for (const i of inView) {
      const [sx, sy] = toScreen(i);
      const product = products.get(data.ids[i]);
      context.fillStyle = colour(data.c[i]);
      if (product && product.image && product.image.complete && product.image.naturalWidth) {
        context.fillRect(sx - size / 2 - 2, sy - size / 2 - 2, size + 4, size + 4);
        context.drawImage(product.image, sx - size / 2, sy - size / 2, size, size);
      } else {
        context.beginPath();
        context.arc(sx, sy, 5, 0, Math.PI * 2);
        context.fill();
      }
    }
    scheduleThumbnails(inView);
  } else {
    // Dots, drawn one colour at a time (fillStyle changes are the expensive part).
    const radius = Math.max(1, Math.min(3, view.scale * 6));
    for (let category = 0; category < data.categories.length; category++) {
      context.fillStyle = colour(category);
      const members = data.byCategory[category];
      for (let k = 0; k < members.length; k++) {
        const i = members[k];
        const sx = data.x[i] * view.scale + view.tx;
        const sy = data.y[i] * view.scale + view.ty;
        if (sx < -4 || sy < -4 || sx > width + 4 || sy > height + 4) continue;
        context.fillRect(sx - radius / 2, sy - radius / 2, radius, radius);
      }
    }
  }
  if (hovered >= 0) {
    const [sx, sy] = toScreen(hovered);
    context.strokeStyle = '#111';
    context.lineWidth = 2;
    context.beginPath();
    context.arc(sx, sy, pictures ? 8 : 6, 0, Math.PI * 2);
    context.stroke();
  }
  if (keyboardCursor) {
    context.strokeStyle = '#f0a500';
    context.lineWidth = 2;
    context.strokeRect(width / 2 - 10, height / 2 - 10, 20, 20);
  }
  canvas.dataset.visible = String(inView.length > THUMBNAILS_BELOW ? 'many' : inView.length);
  canvas.dataset.mode = pictures ? 'photos' : 'dots';
  canvas.dataset.scale = view.scale.toFixed(5);
}

function redraw() {
  if (!frame) frame = requestAnimationFrame(draw);
}

// Once zoomed in, fetch the photos (and titles) of the points in view that we don't have yet.
function scheduleThumbnails(indices) {
  clearTimeout(thumbnailTimer);
  thumbnailTimer = setTimeout(async () => {
    const missing = indices.map((i) => data.ids[i]).filter((id) => !products.has(id));
    if (!missing.length) return;
    for (const id of missing) products.set(id, { url: '', title: '', image: null });
    try {
      const url = new URL(canvas.dataset.thumbnails, window.location.origin);
      url.searchParams.set('ids', missing.join(','));
      const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const body = await response.json();
      for (const [id, row] of Object.entries(body.products)) {
        const image = row.url ? new Image() : null;
        if (image) {
          image.onload = redraw;
          image.src = row.url;
        }
        products.set(Number(id), { url: row.url, title: row.title, image });
      }
      redraw();
    } catch (error) {
      for (const id of missing) products.delete(id);
      showStatus(status, describeProblem(error, 'load the photos of this region'), 'error');
    }
  }, 120);
}

function nearest(sx, sy, radius = HIT_RADIUS) {
  const cell = data.grid / BUCKETS;
  const gx = (sx - view.tx) / view.scale;
  const gy = (sy - view.ty) / view.scale;
  const reach = Math.ceil(radius / view.scale / cell) + 1;
  const bx = Math.floor(gx / cell);
  const by = Math.floor(gy / cell);
  let best = -1;
  let bestDistance = radius * radius;
  for (let y = Math.max(0, by - reach); y <= Math.min(BUCKETS - 1, by + reach); y++) {
    for (let x = Math.max(0, bx - reach); x <= Math.min(BUCKETS - 1, bx + reach); x++) {
      for (const i of buckets[y * BUCKETS + x]) {
        const [px, py] = toScreen(i);
        const distance = (px - sx) ** 2 + (py - sy) ** 2;
        if (distance <= bestDistance) {
          best = i;
          bestDistance = distance;
        }
      }
    }
  }
  return best;
}

function showTooltip(i, sx, sy) {
  if (i < 0) {
    tooltip.hidden = true;
    return;
  }
  const id = data.ids[i];
  const product = products.get(id);
  const parts = [];
  if (product && product.url) parts.push(el('img', { src: product.url, alt: '' }));
  parts.push(el('div', { text: product && product.title ? product.title : `Product ${id}` }));
  parts.push(el('div', { text: data.categories[data.c[i]] }));
  tooltip.replaceChildren(...parts);
  tooltip.hidden = false;
  tooltip.style.left = `${Math.min(sx + 14, width - 250)}px`;
  tooltip.style.top = `${Math.min(sy + 14, height - 150)}px`;
  if (!product) scheduleThumbnails([i]);
}

function zoom(factor, cx, cy) {
  const scale = Math.max(0.02, Math.min(view.scale * factor, 200));
  const applied = scale / view.scale;
  view.tx = cx - (cx - view.tx) * applied;
  view.ty = cy - (cy - view.ty) * applied;
  view.scale = scale;
  redraw();
}

function openProduct(i) {
  if (i >= 0) window.location.assign(`/p/${data.ids[i]}/`);
}

function bindEvents() {
  let drag = null;
  canvas.addEventListener('wheel', (event) => {
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  canvas.addEventListener('pointerdown', (event) => {
    drag = { x: event.clientX, y: event.clientY, tx: view.tx, ty: view.ty, moved: false };
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener('pointermove', (event) => {
    const box = canvas.getBoundingClientRect();
    const sx = event.clientX - box.left;
    const sy = event.clientY - box.top;
    if (drag) {
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        canvas.classList.add('dragging');
        view.tx = drag.tx + dx;
        view.ty = drag.ty + dy;
        tooltip.hidden = true;
        redraw();
        return;
      }
    }
    const found = nearest(sx, sy);
    if (found !== hovered) {
      hovered = found;
      redraw();
    }
    showTooltip(found, sx, sy);
  });
  canvas.addEventListener('pointerup', (event) => {
    const box = canvas.getBoundingClientRect();
    canvas.classList.remove('dragging');
    if (drag && !drag.moved) openProduct(nearest(event.clientX - box.left, event.clientY - box.top));
    drag = null;
  });
  canvas.addEventListener('pointerleave', () => {
    hovered = -1;
    tooltip.hidden = true;
    redraw();
  });
  canvas.addEventListener('keydown', (event) => {
    const step = 60;
    const actions = {
      '+': () => zoom(1.5, width / 2, height / 2),
      '=': () => zoom(1.5, width / 2, height / 2),
      '-': () => zoom(1 / 1.5, width / 2, height / 2),
      ArrowLeft: () => { view.tx += step; },
      ArrowRight: () => { view.tx -= step; },
      ArrowUp: () => { view.ty += step; },
      ArrowDown: () => { view.ty -= step; },
      '0': () => fit(),
      Enter: () => openProduct(nearest(width / 2, height / 2, 40)),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
    keyboardCursor = true;
    hovered = nearest(width / 2, height / 2, 40);
    showTooltip(hovered, width / 2, height / 2);
    redraw();
  });
  canvas.addEventListener('blur', () => {
    keyboardCursor = false;
    redraw();
  });
  window.addEventListener('resize', () => {
    resize();
    redraw();
  });
}

function index(raw) {
  const count = raw.count;
  const ids = new Int32Array(count);
  let running = 0;
  for (let i = 0; i < count; i++) {
    running += raw.ids[i];
    ids[i] = running;
  }
  const parsed = {
    ids, x: Float32Array.from(raw.x), y: Float32Array.from(raw.y), c: Uint16Array.from(raw.c),
    grid: raw.grid, categories: raw.categories, byCategory: raw.categories.map(() => []),
  };
  const cell = raw.grid / BUCKETS;
  const lists = Array.from({ length: BUCKETS * BUCKETS }, () => []);
  for (let i = 0; i < count; i++) {
    const bx = Math.min(BUCKETS - 1, Math.floor(parsed.x[i] / cell));
    const by = Math.min(BUCKETS - 1, Math.floor(parsed.y[i] / cell));
    lists[by * BUCKETS + bx].push(i);
    parsed.byCategory[parsed.c[i]].push(i);
  }
  buckets = lists.map((list) => Int32Array.from(list));
  parsed.byCategory = parsed.byCategory.map((list) => Int32Array.from(list));
  return parsed;
}

function renderLegend() {
  const counts = data.byCategory.map((members) => members.length);
  legend.replaceChildren(...data.categories.map((name, category) => (counts[category]
    ? el('li', {}, el('i', { style: `background:${colour(category)}` }), `${name} (${counts[category]})`)
    : null)).filter(Boolean));
}

async function start() {
  showStatus(status, 'Loading the map…');
  try {
    const response = await fetch(canvas.dataset.points, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    data = index(await response.json());
  } catch (error) {
    showStatus(status, describeProblem(error, 'load the map'), 'error');
    return;
  }
  resize();
  fit();
  renderLegend();
  bindEvents();
  draw();
  canvas.dataset.ready = 'true';
  canvas.dataset.count = String(data.ids.length);
  showStatus(status, '');
}

start();
