// Product page: the photo strip and the "More like this" row with its visual/semantic/hybrid toggle.
import { modeToggle, similarLoader } from './common.js';

const section = document.getElementById('more-like-this');
const productId = section.dataset.productId;
const load = similarLoader(section.querySelector('[data-results]'), section.querySelector('.status'));
const toggle = modeToggle(section.querySelector('.mode-toggle'), (mode) => load(productId, mode));
load(productId, toggle.current());

const main = document.querySelector('[data-main-photo]');
for (const button of document.querySelectorAll('[data-photo]')) {
  button.addEventListener('click', () => {
    main.src = button.dataset.photo;
    main.alt = button.dataset.alt;
  });
}
