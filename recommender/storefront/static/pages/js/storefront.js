// Storefront: text search and search by photo, through the public API.
import { api, describeProblem, el, renderResults, showStatus } from './common.js';

const section = document.getElementById('results');
const heading = document.getElementById('results-title');
const results = section.querySelector('[data-results]');
const status = section.querySelector('.status');
const preview = section.querySelector('[data-query-preview]');
const catalog = document.getElementById('catalog');
const textForm = document.getElementById('text-search');
const input = document.getElementById('q');
const fileInput = document.getElementById('photo');
const dropZone = document.querySelector('[data-drop-zone]');
const RESULT_LIMIT = 24;
let previewUrl = null;

function showResults(title) {
  heading.textContent = title;
  section.hidden = false;
  catalog.hidden = true;
  results.replaceChildren();
  preview.hidden = true;
}

function clearResults() {
  section.hidden = true;
  catalog.hidden = false;
  const url = new URL(window.location.href);
  url.searchParams.delete('q');
  history.replaceState(null, '', url);
}

async function runTextSearch(phrase) {
  showResults(`Closest to “${phrase}”`);
  showStatus(status, 'Searching…');
  const url = new URL(window.location.href);
  url.searchParams.set('q', phrase);
  history.replaceState(null, '', url);
  try {
    const data = await api('search/', { params: { q: phrase, limit: RESULT_LIMIT } });
    renderResults(results, data.results);
    showStatus(status, data.results.length ? `${data.results.length} products, closest first. Hover a product to see its scores.` : 'Nothing matches those words yet.');
  } catch (error) {
    showStatus(status, describeProblem(error, 'search'), 'error');
  }
  heading.focus();
}

async function runPhotoSearch(file) {
  if (!file) return;
  showResults('Closest to your photo');
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  preview.replaceChildren(el('img', { src: previewUrl, alt: 'The photo you searched with' }), el('span', { text: file.name }));
  preview.hidden = false;
  showStatus(status, 'Looking at your photo…');
  const form = new FormData();
  form.append('image', file);
  form.append('limit', String(RESULT_LIMIT));
  try {
    const data = await api('search/image/', { method: 'POST', body: form });
    renderResults(results, data.results);
    showStatus(status, data.results.length ? `${data.results.length} products, closest first. Hover a product to see its scores.` : 'Nothing looks like this photo yet.');
  } catch (error) {
    showStatus(status, describeProblem(error, 'search by photo'), 'error');
  }
}

textForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const phrase = input.value.trim();
  if (phrase) runTextSearch(phrase);
});
document.getElementById('clear-results').addEventListener('click', () => {
  clearResults();
  input.focus();
});
fileInput.addEventListener('change', () => {
  runPhotoSearch(fileInput.files[0]);
  fileInput.value = '';
});
for (const name of ['dragenter', 'dragover']) {
  dropZone.addEventListener(name, (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
}
for (const name of ['dragleave', 'drop']) {
  dropZone.addEventListener(name, () => dropZone.classList.remove('dragging'));
}
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  const file = [...(event.dataTransfer?.files || [])].find((f) => f.type.startsWith('image/')) || event.dataTransfer?.files[0];
  runPhotoSearch(file);
});
// The label opens the file picker on click; make Enter/Space do the same for keyboard users.
dropZone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    fileInput.click();
  }
});

const initial = new URL(window.location.href).searchParams.get('q');
if (initial) {
  input.value = initial;
  runTextSearch(initial);
}
