// Warden's status page. Everything it shows comes from the API on this same origin, asked with
// the key the user gives (kept in sessionStorage: this tab only). Data is put into the page as
// text (textContent), never as HTML, so nothing a config or label holds can run here. It follows
// GET /events (read with fetch, since EventSource cannot send the key) and re-reads what an
// event touched, so the page updates while an operation runs.
'use strict';

const KEY = 'warden.apiKey';
const $ = (id) => document.getElementById(id);
const state = { route: null, events: null, refresh: null, lastEventId: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function badgeClass(status) {
  if (status === 'enabled' || status === 'passed') return 'ok';
  if (status === 'deleted' || status === 'skipped') return 'muted';
  if (status === 'warning') return 'warn';
  if (status.endsWith('Error') || status === 'failed') return 'error';
  return 'busy';
}

function badge(status) {
  return el('span', { class: `badge ${badgeClass(status)}`, text: status });
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, accept) {
  const key = sessionStorage.getItem(KEY);
  const response = await fetch(path, { method, headers: { Authorization: key, Accept: accept || 'application/json' } });
  const text = await response.text();
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = JSON.parse(text).message || message; } catch (_) { /* not JSON */ }
    if (response.status === 401) forgetKey('The server refused the key. Give a key with APPLICATION_ADMIN.');
    throw new ApiError(response.status, message);
  }
  return accept === 'text/plain' ? text : JSON.parse(text);
}

function show(view) {
  for (const id of ['key-view', 'list-view', 'detail-view']) $(id).hidden = id !== view;
  const signedIn = view !== 'key-view';
  $('sign-out').hidden = !signedIn;
  $('live').hidden = !signedIn;
}

function forgetKey(why) {
  sessionStorage.removeItem(KEY);
  stopEvents();
  $('key-error').textContent = why || '';
  show('key-view');
  $('key-input').focus();
}

function routeOf(hash) {
  const match = /^#\/integrations\/(\d+)$/.exec(hash);
  return match ? { view: 'detail', id: match[1] } : { view: 'list' };
}

async function render() {
  $('load-error').textContent = '';
  if (!sessionStorage.getItem(KEY)) { forgetKey(''); return; }
  state.route = routeOf(location.hash);
  startEvents();
  try {
    if (state.route.view === 'detail') await renderDetail(state.route.id);
    else await renderList();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) $('load-error').textContent = error.message;
  }
}

async function renderList() {
  show('list-view');
  const query = new URLSearchParams();
  for (const name of ['type', 'status']) {
    const value = $(`filter-${name}`).value;
    if (value) query.set(name, value);
  }
  const path = query.toString() ? `/integrations?${query}` : '/integrations';
  const integrations = await api('GET', path);
  const rows = integrations.map((i) => el('tr', { 'data-id': String(i.id) },
    el('td', {}, el('a', { href: `#/integrations/${i.id}`, text: String(i.id) })),
    el('td', { text: (i.labels && i.labels.name) || '' }),
    el('td', { text: i.type }),
    el('td', {}, badge(i.status)),
    el('td', {}, el('time', { datetime: i.updatedAt, text: i.updatedAt }))));
  $('list').tBodies[0].replaceChildren(...rows);
  const n = integrations.length;
  $('list-summary').textContent = `${n} integration${n === 1 ? '' : 's'}`;
}

function flatten(value, prefix, out) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [name, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${name}` : name, out);
  } else {
    out.push([prefix, value]);
  }
  return out;
}

// A test's message without the platform's own words at its end: the next column shows them.
function withoutPlatformError(test) {
  const message = test.message || '';
  const platform = test.platformError;
  return platform && message.endsWith(platform) ? message.slice(0, -platform.length).trim() : message;
}

function shown(value) {
  if (value === undefined || value === null) return '(none)';
  if (value === '[REDACTED]') return '(secret, not shown)';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

async function renderDetail(id) {
  show('detail-view');
  const [integration, audit] = await Promise.all([
    api('GET', `/integrations/${id}`),
    api('GET', `/audit?integrationId=${id}&limit=1000`),
  ]);
  const name = integration.labels && integration.labels.name;
  $('detail-title').textContent = `${integration.type} integration ${integration.id}${name ? ` (${name})` : ''}`;
  document.title = `${$('detail-title').textContent} - Warden status`;

  const banner = $('banner');
  const failing = integration.status.endsWith('Error');
  banner.hidden = !failing;
  banner.replaceChildren(...(failing ? [el('strong', { text: `Status ${integration.status}` }),
    el('span', { text: integration.message || 'No remedy was recorded.' })] : []));

  const facts = [['Status', badge(integration.status)], ['Type', integration.type],
    ['Set up by', integration.autoBootstrap ? 'Warden (autoBootstrap)' : 'an administrator, with the scripts'],
    ['Created', integration.createdAt], ['Updated', integration.updatedAt]];
  if (integration.message && !failing) facts.push(['Message', integration.message]);
  for (const [label, value] of Object.entries(integration.labels || {})) facts.push([`Label ${label}`, value]);
  $('facts').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', { text: term }), el('dd', {}, value)]));

  const results = integration.validationResults;
  $('validation-summary').replaceChildren(...(results
    ? ['Overall: ', badge(results.status)] : ['No validation has run yet.']));
  const tests = (results && results.validationTests) || [];
  $('tests').tBodies[0].replaceChildren(...tests.map((t) => el('tr', {},
    el('th', { scope: 'row', text: t.name }),
    el('td', {}, badge(t.status), t.fault ? el('span', { class: 'fault', text: ` ${t.fault}` }) : null),
    el('td', { text: withoutPlatformError(t) }),
    el('td', { text: t.platformError || '' }),
    el('td', { text: t.durationMs == null ? '' : `${t.durationMs.toFixed(1)} ms` }))));

  const config = flatten(integration.config || {}, '', []);
  $('config').tBodies[0].replaceChildren(...config.map(([field, value]) => el('tr', {},
    el('th', { scope: 'row', text: field }), el('td', { text: shown(value) }))));

  const scripts = [['Removal script', `/integrations/${id}/scripts/delete`]];
  if (integration.status === 'createError') scripts.unshift(['Cleanup script', `/integrations/${id}/scripts/cleanup`]);
  $('script-buttons').replaceChildren(...scripts.map(([label, path]) => {
    const button = el('button', { type: 'button', text: `Show the ${label.toLowerCase()}` });
    button.addEventListener('click', () => showScript(path));
    return button;
  }));

  const entries = audit.slice().reverse();
  $('history').tBodies[0].replaceChildren(...entries.map((e) => el('tr', {},
    el('td', {}, el('time', { datetime: e.at, text: e.at })),
    el('td', { text: e.actor }),
    el('td', { text: e.action }),
    el('td', { text: e.changes.map((c) => `${c.path}: ${shown(c.before)} → ${shown(c.after)}`).join('; ') }))));
}

async function showScript(path) {
  const pre = $('script');
  pre.hidden = false;
  try {
    pre.textContent = await api('POST', path, 'text/plain');
  } catch (error) {
    pre.textContent = `The script could not be made: ${error.message}`;
  }
  pre.focus();
}

function setLive(on) {
  $('live').textContent = on ? 'Live' : 'Not live';
  $('live').classList.toggle('on', on);
}

function stopEvents() {
  if (state.events) state.events.abort();
  state.events = null;
  setLive(false);
}

function onEvent(data) {
  let entry = null;
  try { entry = JSON.parse(data); } catch (_) { return; }
  const route = state.route;
  if (!route) return;
  if (route.view === 'detail' && String(entry.integrationId) !== route.id) return;
  clearTimeout(state.refresh);
  state.refresh = setTimeout(render, 100);
}

// Reads the server-sent events of GET /events, resuming after the last one seen.
function startEvents() {
  if (state.events) return;
  const controller = new AbortController();
  state.events = controller;
  (async () => {
    while (!controller.signal.aborted) {
      try {
        const headers = { Authorization: sessionStorage.getItem(KEY), Accept: 'text/event-stream' };
        if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
        const response = await fetch('/events', { headers, signal: controller.signal });
        if (response.status === 401) { forgetKey('The server refused the key.'); return; }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        setLive(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) state.lastEventId = line.slice(3).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) onEvent(data.join('\n'));
          }
        }
      } catch (_) {
        if (controller.signal.aborted) return;
      }
      setLive(false);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();
}

document.addEventListener('DOMContentLoaded', () => {
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    $('key-input').value = '';
    $('key-error').textContent = '';
    render();
  });
  $('sign-out').addEventListener('click', () => forgetKey(''));
  $('filters').addEventListener('change', () => render());
  window.addEventListener('hashchange', () => { render(); $('main').focus(); });
  render();
});
