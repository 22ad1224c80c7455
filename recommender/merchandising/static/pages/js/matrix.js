// Similarity matrix: "a search result" picks the top products of a text search, through the public API.
import { api, describeProblem, showStatus } from './common.js';

const MAX = 50;
const form = document.getElementById('matrix-search');
const status = document.querySelector('main > .status');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const phrase = form.elements.q.value.trim();
  if (!phrase) return;
  showStatus(status, 'Searching…');
  try {
    const data = await api('search/', { params: { q: phrase, limit: MAX } });
    if (!data.results.length) {
      showStatus(status, `Nothing matches “${phrase}”.`);
      return;
    }
    const url = new URL(window.location.href);
    url.search = '';
    url.searchParams.set('ids', data.results.map((result) => result.id).join(','));
    url.searchParams.set('label', `Search: “${phrase}”`);
    window.location.assign(url);
  } catch (error) {
    showStatus(status, describeProblem(error, 'search'), 'error');
  }
});
