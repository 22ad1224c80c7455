// Duplicate review: groups of listings side by side with their scores, and the decisions of
// the duplicates API (keep one and deactivate the others, or "not duplicates"; undo).
import { api, describeProblem, el, showStatus } from './common.js';

const PAGE = 10;
const TIERS = { exact: 'Exact copy', near_duplicate: 'Near-duplicate', similar: 'Similar' };
const container = document.getElementById('duplicate-groups');
const status = document.querySelector('main > .status');
const pager = document.querySelector('nav.pagination');
const filters = [...document.querySelectorAll('[data-status]')];
let state = { status: 'open', offset: 0 };

function score(value) {
  return typeof value === 'number' ? value.toFixed(3) : '—';
}

function member(group, item) {
  const product = item.product;
  const photo = item.image && item.image.thumbnail;
  const keepId = `keep-${group.id}-${product.id}`;
  const keptChecked = group.kept_product_id ? group.kept_product_id === product.id : item.is_representative;
  const evidence = item.is_representative
    ? 'Representative of the group'
    : `Similarity ${score(item.similarity)} to the representative${item.phash_distance === null ? '' : ` · pHash distance ${item.phash_distance}`} · ${TIERS[item.tier] || item.tier}`;
  return el('li', { class: 'member', 'data-product-id': product.id },
    el('button', { type: 'button', class: 'card-image', 'data-neighbours': product.id, 'data-title': product.title,
      'aria-label': `Products like ${product.title}` },
      photo ? el('img', { src: photo, alt: product.title, width: 160, height: 160, loading: 'lazy' })
        : el('span', { class: 'no-photo', text: 'No photo' })),
    el('p', { class: 'member-title' }, el('a', { href: `/p/${product.id}/`, text: product.title })),
    el('p', { class: 'member-scores', text: `${product.price} ${product.currency}${product.seller ? ` · ${product.seller}` : ''} · SKU ${product.sku}` }),
    el('p', { class: 'member-scores', text: evidence }),
    item.deactivated ? el('p', { class: 'member-scores', text: 'Deactivated by this decision' }) : null,
    group.status === 'open'
      ? el('label', { for: keepId },
          el('input', { type: 'radio', id: keepId, name: `keep-${group.id}`, value: product.id, checked: keptChecked }),
          'Keep this one')
      : null);
}

function outcomeText(group) {
  if (group.status === 'duplicate') {
    const kept = group.members.find((item) => item.product.id === group.kept_product_id);
    const removed = group.members.filter((item) => item.deactivated).length;
    return `Resolved as duplicates: kept “${kept ? kept.product.title : group.kept_product_id}”, ${removed} listing${removed === 1 ? '' : 's'} deactivated.`;
  }
  if (group.status === 'not_duplicate') return 'Resolved: these are different products.';
  return '';
}

function groupSection(group) {
  const outcome = el('p', { class: 'outcome', role: 'status', text: outcomeText(group) });
  const problem = el('div', { class: 'status' });
  const section = el('section', { class: `duplicate-group${group.status === 'open' ? '' : ' resolved'}`,
    'data-group-id': group.id, 'aria-labelledby': `group-${group.id}` },
    el('header', {},
      el('h2', { id: `group-${group.id}`, text: `${TIERS[group.tier] || group.tier}: ${group.members.length} listings` }),
      el('span', { class: 'hint', text: `Group ${group.id}${group.category ? ` · ${group.category.name}` : ''} · lowest similarity ${score(group.score)}` })),
    el('ul', { class: 'members' }, group.members.map((item) => member(group, item))));
  const actions = el('div', { class: 'group-actions' });
  if (group.status === 'open') {
    actions.append(
      el('button', { type: 'button', 'data-action': 'duplicate', text: 'Duplicates: keep the selected one' }),
      el('button', { type: 'button', class: 'secondary', 'data-action': 'not_duplicate', text: 'Not duplicates' }));
  } else if (group.status === 'duplicate') {
    actions.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'restore', text: 'Undo: reactivate the listings' }));
  }
  actions.append(outcome);
  section.append(actions, problem);
  actions.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) decide(group, section, button.dataset.action, problem);
  });
  return section;
}

async function decide(group, section, action, problem) {
  const buttons = [...section.querySelectorAll('button[data-action]')];
  buttons.forEach((button) => { button.disabled = true; });
  showStatus(problem, '');
  try {
    let updated;
    if (action === 'restore') {
      updated = await api(`duplicates/${group.id}/restore/`, { method: 'POST', body: {} });
    } else {
      const body = { decision: action };
      if (action === 'duplicate') {
        const chosen = section.querySelector(`input[name="keep-${group.id}"]:checked`);
        body.keep = Number(chosen ? chosen.value : group.representative_id);
      }
      updated = await api(`duplicates/${group.id}/resolve/`, { method: 'POST', body });
    }
    const replacement = groupSection(updated);
    section.replaceWith(replacement);
    replacement.querySelector('.outcome').focus?.();
  } catch (error) {
    buttons.forEach((button) => { button.disabled = false; });
    showStatus(problem, describeProblem(error, 'save the decision'), 'error');
  }
}

async function load() {
  showStatus(status, 'Loading duplicate groups…');
  container.setAttribute('aria-busy', 'true');
  try {
    const data = await api('duplicates/', { params: { status: state.status, limit: PAGE, offset: state.offset } });
    container.replaceChildren(...data.results.map(groupSection));
    const empty = state.status === 'open'
      ? 'Nothing to review: no open duplicate groups. The worker flags them as photos are embedded.'
      : 'No groups resolved this way yet.';
    showStatus(status, data.count ? `${data.count} group${data.count === 1 ? '' : 's'}.` : empty);
    pager.hidden = data.count <= PAGE;
    pager.querySelector('[data-page-label]').textContent = `${state.offset + 1}–${state.offset + data.results.length} of ${data.count}`;
    pager.querySelector('[data-page="prev"]').disabled = state.offset === 0;
    pager.querySelector('[data-page="next"]').disabled = data.next_offset === null;
  } catch (error) {
    container.replaceChildren();
    showStatus(status, describeProblem(error, 'load the duplicate groups'), 'error');
  } finally {
    container.removeAttribute('aria-busy');
  }
}

for (const button of filters) {
  button.addEventListener('click', () => {
    filters.forEach((other) => other.setAttribute('aria-pressed', String(other === button)));
    state = { status: button.dataset.status, offset: 0 };
    load();
  });
}
pager.querySelector('[data-page="prev"]').addEventListener('click', () => {
  state.offset = Math.max(0, state.offset - PAGE);
  load();
});
pager.querySelector('[data-page="next"]').addEventListener('click', () => {
  state.offset += PAGE;
  load();
});
load();
