// Shared by every page: calling the API, showing its errors, rendering product cards,
// and the "nearest neighbours" dialog that opens when any product photo is clicked.

const API_ROOT = document.querySelector('meta[name="api-root"]').content;
const CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]').content;

export class ApiProblem extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// fetch() a JSON endpoint under /api/v1/; throws ApiProblem with a sentence a person can read.
export async function api(path, { method = 'GET', params, body, signal } = {}) {
  const url = new URL(API_ROOT + path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRFToken'] = CSRF_TOKEN;
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, signal, credentials: 'same-origin' });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiProblem('The service cannot be reached. Check your connection and try again.', 0, 'network');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const envelope = data && data.error;
    const message = envelope && envelope.message ? envelope.message : `The service answered ${response.status} ${response.statusText || ''}`.trim();
    throw new ApiProblem(message, response.status, envelope ? envelope.code : 'http');
  }
  return data;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// One status line per region: progress, an empty result or an API error (role=alert for errors).
export function showStatus(region, message, kind = 'info') {
  region.replaceChildren();
  region.classList.remove('error');
  region.removeAttribute('role');
  region.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (!message) return;
  if (kind === 'error') region.classList.add('error');
  region.textContent = message;
}

export function describeProblem(error, what) {
  if (error instanceof ApiProblem) return `Could not ${what}: ${error.message}`;
  return `Could not ${what}: ${error && error.message ? error.message : 'unexpected error'}.`;
}

const SCORE_LABELS = [['visual', 'Visual'], ['semantic', 'Semantic'], ['text', 'Text'], ['combined', 'Combined']];

function formatScore(value) {
  return typeof value === 'number' ? value.toFixed(3) : '—';
}

// Text search says which rule placed a result (scores.match); shown as words, not a number.
const MATCH_LABELS = {
  every_word: 'matches every word',
  every_word_in_compound: 'matches every word, some inside a compound',
  some_words: 'matches some words',
  some_words_in_compound: 'matches some words, inside a compound',
  semantic: 'related',
};

export function scoresSummary(scores) {
  const numbers = SCORE_LABELS.filter(([key]) => scores && typeof scores[key] === 'number')
    .map(([key, label]) => `${label} ${formatScore(scores[key])}`);
  const match = scores && MATCH_LABELS[scores.match];
  return (match ? [...numbers, match] : numbers).join(' · ');
}

// A card for one API result ({id, title, price, currency, category, thumbnail, scores}).
export function resultCard(result) {
  const summary = scoresSummary(result.scores);
  const image = result.thumbnail
    ? el('img', { src: result.thumbnail, alt: result.title, width: 160, height: 160, loading: 'lazy' })
    : el('span', { class: 'no-photo', text: 'No photo' });
  const scores = result.scores
    ? el('div', { class: 'scores', 'aria-hidden': 'true' },
        el('dl', {}, SCORE_LABELS.filter(([key]) => typeof result.scores[key] === 'number')
          .map(([key, label]) => [el('dt', { text: label }), el('dd', { text: formatScore(result.scores[key]) })])))
    : null;
  return el('article', { class: 'card', 'data-product-id': result.id, title: summary || null },
    el('button', { type: 'button', class: 'card-image', 'data-neighbours': result.id, 'data-title': result.title,
      'aria-label': `Products like ${result.title}` }, image),
    scores,
    el('h3', { class: 'card-title' }, el('a', { href: `/p/${result.id}/` , text: result.title })),
    el('p', { class: 'card-meta' },
      el('span', { class: 'price', text: `${result.price} ${result.currency}` }),
      result.scores && typeof result.scores.combined === 'number'
        ? el('span', { class: 'combined-score', text: ` · score ${formatScore(result.scores.combined)}` }) : null,
      el('span', { class: 'visually-hidden', text: summary ? ` Scores: ${summary}.` : '' })),
    el('div', { class: 'card-actions' },
      el('button', { type: 'button', class: 'secondary', 'data-neighbours': result.id, 'data-title': result.title,
        text: 'More like this' })));
}

export function renderResults(container, results) {
  container.replaceChildren(...results.map(resultCard));
}

// A group of aria-pressed buttons acting as one choice; calls onChange(value) when it changes.
export function modeToggle(group, onChange) {
  const buttons = [...group.querySelectorAll('button[data-mode]')];
  const select = (value) => {
    for (const button of buttons) button.setAttribute('aria-pressed', String(button.dataset.mode === value));
  };
  for (const button of buttons) {
    button.addEventListener('click', () => {
      select(button.dataset.mode);
      onChange(button.dataset.mode);
    });
  }
  return { select, current: () => (buttons.find((b) => b.getAttribute('aria-pressed') === 'true') || buttons[0]).dataset.mode };
}

// "More like this" for one product, in a container: used by the dialog and the product page.
export function similarLoader(container, status) {
  let controller = null;
  return async (productId, mode, limit = 12) => {
    if (controller) controller.abort();
    controller = new AbortController();
    showStatus(status, 'Finding similar products…');
    container.setAttribute('aria-busy', 'true');
    try {
      const data = await api(`products/${productId}/similar/`, { params: { mode, limit }, signal: controller.signal });
      renderResults(container, data.results);
      showStatus(status, data.results.length ? '' : 'No similar products yet: photos may still be processing.');
    } catch (error) {
      if (error.name === 'AbortError') return;
      container.replaceChildren();
      showStatus(status, describeProblem(error, 'load similar products'), 'error');
    } finally {
      container.removeAttribute('aria-busy');
    }
  };
}

function setUpNeighboursDialog() {
  const dialog = document.getElementById('neighbours');
  if (!dialog) return;
  const results = dialog.querySelector('[data-results]');
  const status = dialog.querySelector('.status');
  const title = dialog.querySelector('#neighbours-title');
  const link = dialog.querySelector('[data-product-link]');
  const load = similarLoader(results, status);
  let productId = null;
  const toggle = modeToggle(dialog.querySelector('.mode-toggle'), (mode) => load(productId, mode));
  dialog.querySelector('[data-close]').addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  // Any product photo or "More like this" button, anywhere, now or added later.
  document.addEventListener('click', (event) => {
    const trigger = event.target.closest('[data-neighbours]');
    if (!trigger) return;
    event.preventDefault();
    productId = trigger.dataset.neighbours;
    title.textContent = `Products like “${trigger.dataset.title || `product ${productId}`}”`;
    link.href = `/p/${productId}/`;
    results.replaceChildren();
    if (!dialog.open) dialog.showModal();
    load(productId, toggle.current());
  });
}

setUpNeighboursDialog();
