// Aviary's dashboard: plain JavaScript, no framework, no build step, nothing
// fetched from anywhere but this server (CSP `default-src 'self'`).
//
// Charts are plain SVG drawn here, not Chart.js (Debian's libjs-chart.js):
// the one chart needed (a metric's measurements over time, with threshold
// lines and marked failures) is ~150 lines; SVG points are real elements, so
// each carries a <title> for screen readers and tooltips, a shape per phase
// (not only a colour), CSS colours that follow dark mode and forced colours,
// crisp lines at 200 % zoom, and WebDriver tests can find them. A canvas
// library would give none of that and would be one more third-party file to
// vendor and keep patched.
//
// Every string from the server is hostile: it reaches the page only through
// textContent / createTextNode / setAttribute on non-executable attributes,
// never innerHTML; class names come from fixed tables, never from data.
'use strict';

(function () {
  // ---- DOM helpers ---------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) throw new Error('no inline handlers');
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function text(v) {
    return v === undefined || v === null || v === '' ? '–' : String(v);
  }

  function str(v) {
    return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
  }

  function list(v) {
    return Array.isArray(v) ? v : [];
  }

  // ---- Status: always an icon and a word; the colour only repeats them -----

  const PHASES = {
    Healthy: { icon: '✔', cls: 'ok' },
    Successful: { icon: '✔', cls: 'ok' },
    Completed: { icon: '✔', cls: 'ok' },
    Progressing: { icon: '⟳', cls: 'busy' },
    Running: { icon: '⟳', cls: 'busy' },
    Pending: { icon: '…', cls: 'busy' },
    Paused: { icon: '‖', cls: 'paused' },
    Inconclusive: { icon: '?', cls: 'paused' },
    Degraded: { icon: '✖', cls: 'bad' },
    Aborted: { icon: '✖', cls: 'bad' },
    Failed: { icon: '✖', cls: 'bad' },
    Error: { icon: '⚠', cls: 'bad' },
  };
  const PHASE_FILTERS = ['Degraded', 'Paused', 'Progressing', 'Healthy'];

  function phaseInfo(phase) {
    return Object.prototype.hasOwnProperty.call(PHASES, phase) ? PHASES[phase] : { icon: '•', cls: 'unknown' };
  }

  function badge(phase) {
    const p = phaseInfo(phase);
    return el('span', { class: 'badge badge-' + p.cls },
      el('span', { class: 'icon', 'aria-hidden': 'true' }, p.icon), ' ', text(phase || 'Unknown'));
  }

  // ---- Times ---------------------------------------------------------------

  function parseTime(v) {
    if (typeof v !== 'string' && typeof v !== 'number') return NaN;
    return typeof v === 'number' ? v * 1000 : Date.parse(v);
  }

  function clock(ms) {
    const d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  function timeCell(v) {
    const ms = parseTime(v);
    if (isNaN(ms)) return text(v);
    return el('time', { datetime: new Date(ms).toISOString(), title: new Date(ms).toISOString() }, clock(ms));
  }

  function age(v) {
    if (typeof v !== 'number' || !isFinite(v)) return text(v);
    let s = Math.max(0, Math.floor(v));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    s %= 60;
    if (d > 0) return d + 'd' + (h ? h + 'h' : '');
    if (h > 0) return h + 'h' + (m ? m + 'm' : '');
    if (m > 0) return m + 'm' + (s ? s + 's' : '');
    return s + 's';
  }

  // ---- Routing: #/ (list, ?namespace=&label=&phase=) and #/ns/name ---------

  function parseRoute() {
    const hash = location.hash || '#/';
    if (!hash.startsWith('#/')) return null; // an in-page anchor, e.g. the skip link
    const q = hash.indexOf('?');
    const path = q < 0 ? hash.slice(2) : hash.slice(2, q);
    const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    const parts = path.split('/').filter((p) => p !== '');
    try {
      if (parts.length === 2) return { view: 'detail', namespace: decodeURIComponent(parts[0]), name: decodeURIComponent(parts[1]) };
    } catch (e) {
      return { view: 'bad', path };
    }
    if (parts.length === 0) {
      return { view: 'list', namespace: params.get('namespace') || '', label: params.get('label') || '', phase: params.get('phase') || '' };
    }
    return { view: 'bad', path };
  }

  function detailHref(ns, name) {
    return '#/' + encodeURIComponent(str(ns)) + '/' + encodeURIComponent(str(name));
  }

  function listHref(f) {
    const p = new URLSearchParams();
    for (const k of ['namespace', 'label', 'phase']) if (f[k]) p.set(k, f[k]);
    const q = p.toString();
    return '#/' + (q ? '?' + q : '');
  }

  // ---- Fetching ------------------------------------------------------------

  class LoadError extends Error {}

  async function getJSON(url, what) {
    let res;
    try {
      res = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    } catch (e) {
      throw new LoadError('Could not reach the Aviary server to load ' + what + '. Check that `aviary dashboard` is still running; the page retries when the live stream is back.');
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const said = body && typeof body.error === 'string' ? ': ' + body.error : '';
      if (res.status === 404) throw new LoadError('Not found' + said + '.');
      throw new LoadError('The server answered ' + res.status + ' for ' + what + said + '. The page retries on the next change; reload to try now.');
    }
    if (body === null || typeof body !== 'object') throw new LoadError('The server sent something that is not JSON for ' + what + '. Reload the page; if it persists, check the server\'s log.');
    return body;
  }

  // ---- State and rendering -------------------------------------------------

  const main = document.getElementById('main');
  const state = { route: null, generation: 0, loading: false, again: false, listForm: null };

  function setBusy(on) {
    main.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function updated() {
    const u = document.getElementById('updated');
    if (u) u.textContent = 'Updated ' + clock(Date.now());
  }

  // Re-drawing keeps the reader's place: focus and open <details> by their data-key, and the scroll position.
  function swap(container, content) {
    const active = document.activeElement;
    const focusKey = active && container.contains(active) ? active.getAttribute('data-key') : null;
    const open = new Set(Array.from(container.querySelectorAll('details[open][data-key]')).map((d) => d.getAttribute('data-key')));
    const y = window.scrollY;
    container.replaceChildren(content);
    for (const d of container.querySelectorAll('details[data-key]')) if (open.has(d.getAttribute('data-key'))) d.open = true;
    if (focusKey) {
      const again = Array.from(container.querySelectorAll('[data-key]')).find((n) => n.getAttribute('data-key') === focusKey);
      if (again) again.focus();
    }
    window.scrollTo(0, y);
  }

  async function refresh(fromRoute) {
    if (state.loading) { state.again = true; return; }
    state.loading = true;
    try {
      do {
        state.again = false;
        const route = state.route;
        const gen = state.generation;
        setBusy(true);
        try {
          if (route.view === 'list') await showList(route, gen, fromRoute);
          else if (route.view === 'detail') await showDetail(route, gen, fromRoute);
          else showBad(route);
        } finally {
          setBusy(false);
        }
        fromRoute = false;
      } while (state.again);
    } finally {
      state.loading = false;
    }
  }

  function onRoute() {
    const route = parseRoute();
    if (!route) return;
    const previous = state.route;
    state.route = route;
    state.generation++;
    const sameView = previous && previous.view === route.view && route.view === 'list';
    if (!sameView) {
      state.listForm = null;
      main.replaceChildren(el('p', { class: 'loading' }, 'Loading…'));
    }
    refresh(!sameView).then(() => {
      if (!sameView) {
        const h = main.querySelector('h1');
        if (h) h.focus({ preventScroll: false });
      }
    });
  }

  function errorBox(message) {
    return el('div', { class: 'error', role: 'alert' },
      el('span', { class: 'icon', 'aria-hidden': 'true' }, '⚠'), ' ', message);
  }

  function showBad(route) {
    document.title = 'Aviary: not found';
    main.replaceChildren(el('h1', { tabindex: '-1' }, 'No such page'),
      el('p', null, 'The address ', el('code', null, '#/' + route.path), ' is not a page here. Addresses are ',
        el('code', null, '#/'), ' (all rollouts) and ', el('code', null, '#/NAMESPACE/NAME'), '. ',
        el('a', { href: '#/' }, 'All rollouts')));
  }

  // ---- The list ------------------------------------------------------------

  function buildListForm(route, namespaces) {
    const nsSelect = el('select', { id: 'f-namespace', name: 'namespace' },
      el('option', { value: '' }, 'All namespaces'),
      namespaces.map((n) => el('option', { value: str(n) }, str(n))));
    const phaseSelect = el('select', { id: 'f-phase', name: 'phase' },
      el('option', { value: '' }, 'All phases'),
      PHASE_FILTERS.map((p) => el('option', { value: p }, p)));
    const label = el('input', { id: 'f-label', name: 'label', type: 'text', placeholder: 'app=web,tier!=db', autocomplete: 'off', spellcheck: 'false' });
    const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter rollouts' },
      el('div', { class: 'field' }, el('label', { for: 'f-namespace' }, 'Namespace'), nsSelect),
      el('div', { class: 'field' }, el('label', { for: 'f-label' }, 'Label selector'), label),
      el('div', { class: 'field' }, el('label', { for: 'f-phase' }, 'Phase'), phaseSelect),
      el('div', { class: 'field actions' },
        el('button', { type: 'submit' }, 'Apply'),
        el('a', { href: '#/', class: 'clear' }, 'Clear filters')));
    const go = () => {
      const href = listHref({ namespace: nsSelect.value, label: label.value.trim(), phase: phaseSelect.value });
      if (href !== (location.hash || '#/')) location.hash = href;
    };
    nsSelect.addEventListener('change', go);
    phaseSelect.addEventListener('change', go);
    form.addEventListener('submit', (e) => { e.preventDefault(); go(); });
    return { form, nsSelect, phaseSelect, label };
  }

  function syncNamespaces(select, namespaces, current) {
    const have = Array.from(select.options).slice(1).map((o) => o.value);
    const want = namespaces.map(str);
    if (current && !want.includes(current)) want.push(current);
    if (have.join('\u0000') === want.join('\u0000')) return;
    select.replaceChildren(el('option', { value: '' }, 'All namespaces'), want.map((n) => el('option', { value: n }, n)));
  }

  async function showList(route, gen, first) {
    const p = new URLSearchParams();
    for (const k of ['namespace', 'label', 'phase']) if (route[k]) p.set(k, route[k]);
    let data, failure = null;
    try {
      data = await getJSON('/api/rollouts' + (p.toString() ? '?' + p.toString() : ''), 'the rollouts');
    } catch (e) {
      failure = e instanceof LoadError ? e.message : 'Could not show the rollouts: ' + e;
      data = null;
    }
    if (gen !== state.generation) return;
    document.title = 'Aviary: rollouts';
    if (!state.listForm) {
      state.listForm = buildListForm(route, list(data && data.namespaces));
      state.listForm.results = el('div', { id: 'results' });
      main.replaceChildren(
        el('div', { class: 'title-row' }, el('h1', { tabindex: '-1' }, 'Rollouts'), el('span', { id: 'updated', class: 'muted' })),
        state.listForm.form, state.listForm.results);
    }
    const f = state.listForm;
    syncNamespaces(f.nsSelect, list(data && data.namespaces), route.namespace);
    f.nsSelect.value = route.namespace;
    f.phaseSelect.value = PHASE_FILTERS.includes(route.phase) ? route.phase : '';
    if (document.activeElement !== f.label) f.label.value = route.label;
    if (failure) {
      swap(f.results, errorBox(failure));
      return;
    }
    updated();
    swap(f.results, rolloutTable(list(data.rollouts), route, data.message));
  }

  // `message`: the server's reason for an empty list (in the cluster: what this viewer may not read), shown as text.
  function rolloutTable(rows, route, message) {
    const filtered = route.namespace || route.label || route.phase;
    if (rows.length === 0) {
      return el('p', { class: 'empty' }, filtered
        ? 'No rollout matches these filters. '
        : message ? str(message) + ' '
        : 'No rollouts in the namespaces this dashboard may read. Create one (see examples/) or check the namespaces `aviary dashboard` was given. ',
      filtered ? el('a', { href: '#/' }, 'Clear filters') : null);
    }
    // The server sends them attention first; sorting again by its rank (stable) keeps its order and its ties.
    rows = rows.slice().sort((a, b) => rank(a) - rank(b));
    const head = ['Status', 'Namespace', 'Name', 'Strategy', 'Step', 'Weight set / actual', 'Images', 'Ready', 'Age'];
    return el('div', { class: 'table-wrap' }, el('table', { id: 'rollouts', class: 'rollouts' },
      el('caption', { class: 'visually-hidden' }, rows.length + ' rollouts, the ones that need attention first'),
      el('thead', null, el('tr', null, head.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, rows.map((r) => {
        const key = 'row:' + str(r.namespace) + '/' + str(r.name);
        return el('tr', { class: 'phase-' + phaseInfo(r.phase).cls },
          el('td', { class: 'status' }, badge(r.phase)),
          el('td', null, text(r.namespace)),
          el('td', { class: 'name' }, el('a', { href: detailHref(r.namespace, r.name), 'data-key': key }, text(r.name))),
          el('td', null, text(r.strategy)),
          el('td', null, stepOf(r)),
          el('td', null, weightText(r.setWeight), ' / ', weightText(r.actualWeight)),
          el('td', { class: 'images' }, imageList(r.images)),
          el('td', null, text(r.ready) + '/' + text(r.desired)),
          el('td', null, ageOf(r)));
      }))));
  }

  function rank(r) {
    return r && typeof r.attention === 'number' && isFinite(r.attention) ? r.attention : 99;
  }

  function stepOf(r) {
    if (typeof r.step === 'number') return typeof r.stepCount === 'number' ? r.step + '/' + r.stepCount : String(r.step);
    return text(r.step);
  }

  function ageOf(r) {
    if (r.age !== undefined && r.age !== null) return age(r.age);
    const t = parseTime(r.createdAt);
    return isNaN(t) ? '–' : el('span', { title: new Date(t).toISOString() }, age((Date.now() - t) / 1000));
  }

  function weightText(w) {
    return w === undefined || w === null ? '–' : String(w) + (typeof w === 'number' ? '%' : '');
  }

  function imageList(images) {
    const items = list(images).map((i) => {
      if (i && typeof i === 'object') return el('li', null, text(i.image), i.role ? el('span', { class: 'muted' }, ' (' + str(i.role) + ')') : null);
      return el('li', null, text(i));
    });
    return items.length ? el('ul', { class: 'plain' }, items) : '–';
  }

  // ---- A rollout -----------------------------------------------------------

  async function showDetail(route, gen) {
    const url = '/api/rollouts/' + encodeURIComponent(route.namespace) + '/' + encodeURIComponent(route.name);
    let data, failure = null;
    try {
      data = await getJSON(url, 'rollout ' + route.namespace + '/' + route.name);
    } catch (e) {
      failure = e instanceof LoadError ? e.message : 'Could not show the rollout: ' + e;
    }
    if (gen !== state.generation) return;
    document.title = 'Aviary: ' + route.namespace + '/' + route.name;
    const back = el('p', { class: 'back' }, el('a', { href: '#/', 'data-key': 'back' }, '← All rollouts'));
    const title = el('div', { class: 'title-row' },
      el('h1', { tabindex: '-1' }, el('span', { class: 'muted' }, route.namespace + ' / '), route.name),
      el('span', { id: 'updated', class: 'muted' }));
    if (failure) {
      swap(main, el('div', null, back, title, errorBox(failure)));
      return;
    }
    const s = data.summary && typeof data.summary === 'object' ? data.summary : {};
    const page = el('div', { class: 'detail' }, back, title,
      actionsSection(route, s),
      summarySection(s),
      data.report && typeof data.report === 'object' ? reportSection(data.report) : null,
      stepsSection(s),
      trafficSection(s),
      revisionsSection(s),
      runsSection(s),
      eventsSection(list(data.events)));
    swap(main, page);
    updated();
  }

  function section(id, heading, ...content) {
    return el('section', { id, 'aria-labelledby': id + '-h' }, el('h2', { id: id + '-h' }, heading), content);
  }

  function dl(pairs) {
    return el('dl', { class: 'fields' }, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '')
      .map(([k, v]) => el('div', null, el('dt', null, k), el('dd', null, v instanceof Node ? v : String(v)))));
  }

  function summarySection(s) {
    const replicas = s.replicas && typeof s.replicas === 'object' ? s.replicas : null;
    const verified = s.weightVerified === true ? ' (verified)' : s.weightVerified === false ? ' (not verified yet)' : '';
    return section('summary', 'Summary', dl([
      ['Status', badge(s.phase)],
      ['Message', s.message],
      ['Strategy', s.strategy],
      ['Traffic', s.traffic || s.router],
      ['Stage', s.stage],
      ['Step', s.step === undefined || s.step === null ? null : stepOf(s)],
      ['Set weight', s.setWeight === undefined || s.setWeight === null ? null : weightText(s.setWeight)],
      ['Actual weight', s.actualWeight === undefined || s.actualWeight === null ? null : weightText(s.actualWeight) + verified],
      ['Routes', Array.isArray(s.routes) ? s.routes.map(str).join(', ') : s.routes],
      ['Rollback', s.rollback],
      ['Abort', s.abortStrategy],
      ['Images', list(s.images).length ? imageList(s.images) : null],
      ['Replicas', replicas ? ['desired', 'current', 'updated', 'ready', 'available'].filter((k) => k in replicas).map((k) => k + ' ' + text(replicas[k])).join(', ') : null],
      ['Age', s.age !== undefined || s.createdAt ? ageOf(s) : null],
    ]));
  }

  function stepText(step) {
    if (typeof step === 'string') return step;
    for (const k of ['text', 'description', 'summary', 'title', 'kind']) if (typeof step[k] === 'string') return step[k];
    return 'step';
  }

  function stepsSection(s) {
    const steps = list(s.steps);
    if (steps.length === 0) return section('steps', 'Steps', el('p', { class: 'muted' }, s.strategy === 'BlueGreen' ? 'Blue-green has no steps: see the stage above.' : 'No steps: the update goes to 100 % at once.'));
    const currentAt = steps.findIndex((st) => st && (st.current === true || st.state === 'current'));
    const finished = currentAt < 0 && s.phase === 'Healthy';
    return section('steps', 'Steps', el('ol', { class: 'steps' }, steps.map((st, i) => {
      const current = i === currentAt;
      const done = st && typeof st.state === 'string' ? st.state === 'done' : finished || (currentAt >= 0 && i < currentAt);
      const mark = current ? ['▶', 'current'] : done ? ['✔', 'done'] : ['○', 'to do'];
      const waits = st && st.waitingFor ? el('div', { class: 'waits' }, 'Waiting for: ', str(st.waitingFor)) : null;
      return el('li', { class: 'step' + (current ? ' current' : done ? ' done' : ''), 'aria-current': current ? 'step' : null },
        el('span', { class: 'step-mark' }, el('span', { 'aria-hidden': 'true' }, mark[0]), ' ', mark[1]),
        ' ', el('span', { class: 'step-text' }, stepText(st)), waits);
    })));
  }

  function trafficSection(s) {
    const w = s.weights;
    let rows = [];
    if (Array.isArray(w)) rows = w.map((x) => [str(x && (x.role || x.name)), x && x.weight]);
    else if (w && typeof w === 'object') rows = Object.entries(w).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k, v]);
    else if (typeof s.setWeight === 'number' || typeof s.actualWeight === 'number') {
      if (typeof s.setWeight === 'number') rows.push(['Canary, set', s.setWeight]);
      if (typeof s.actualWeight === 'number') rows.push(['Canary, actual', s.actualWeight], ['Stable, actual', 100 - s.actualWeight]);
    }
    const routes = list(s.routes).length ? el('p', null, 'Routes in force: ', list(s.routes).map(str).join(', ')) : null;
    if (rows.length === 0 && !routes) return null;
    return section('traffic', 'Traffic', s.traffic ? el('p', null, 'Router: ', str(s.traffic)) : null,
      rows.length ? el('ul', { class: 'weights plain' }, rows.map(([k, v]) => {
        const pct = typeof v === 'number' && isFinite(v) ? Math.max(0, Math.min(100, v)) : 0;
        const bar = el('span', { class: 'bar', 'aria-hidden': 'true' }, el('span', { class: 'bar-fill' }));
        bar.firstChild.style.width = pct + '%'; // CSSOM, allowed under CSP
        return el('li', null, el('span', { class: 'weight-name' }, k), ' ', el('span', { class: 'weight-value' }, weightText(v)), ' ', bar);
      })) : null, routes);
  }

  function revisionsSection(s) {
    const revs = list(s.revisions);
    if (revs.length === 0) return null;
    return section('revisions', 'Revisions', el('ul', { class: 'tree' }, revs.map((r) =>
      el('li', null, el('strong', null, 'Revision ' + text(r.revision)),
        r.images ? el('span', { class: 'muted' }, ' ', list(r.images).map((i) => (i && typeof i === 'object' ? str(i.image) : str(i))).join(', ')) : null,
        el('ul', null, list(r.replicaSets).map((rs) =>
          el('li', null, 'ReplicaSet ', el('code', null, text(rs.name)),
            rs.role ? ' (' + str(rs.role) + ')' : '', rs.phase ? [' ', badge(rs.phase)] : null,
            rs.ready !== undefined || rs.desired !== undefined ? ' — ' + text(rs.ready) + '/' + text(rs.desired) + ' ready' : '',
            list(rs.pods).length ? el('ul', { class: 'pods' }, list(rs.pods).map((p) =>
              el('li', null, p.ready === true
                ? el('span', { class: 'badge badge-ok' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, '✔'), ' Ready')
                : el('span', { class: 'badge badge-bad' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, '✖'), ' Not ready'),
              ' ', el('code', null, text(p.name)),
              p.phase ? el('span', { class: 'muted' }, ' ' + str(p.phase)) : null))) : null))),
        list(r.analysisRuns).length ? el('p', { class: 'muted' }, 'Analysis runs: ', list(r.analysisRuns).map(str).join(', ')) : null))));
  }

  function runsSection(s) {
    const runs = list(s.analysisRuns || s.runs);
    if (runs.length === 0) return section('analysis', 'Analysis runs', el('p', { class: 'muted' }, 'No AnalysisRuns for this rollout.'));
    return section('analysis', 'Analysis runs', runs.map((run, ri) =>
      el('article', { class: 'run' },
        el('h3', null, badge(run.phase), ' ', text(run.name), run.slot ? el('span', { class: 'muted' }, ' (' + str(run.slot) + ')') : null),
        run.message ? el('p', { class: 'decided' }, el('strong', null, 'Decided by: '), str(run.message)) : null,
        list(run.metrics).map((m, mi) => metricBlock(m, 'm:' + ri + ':' + mi)))));
  }

  // ---- The chart -----------------------------------------------------------

  const NUMBER = '(-?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?)';
  const RESULT = 'result(?:\\[0\\])?';
  const LEFT = new RegExp('^' + RESULT + '\\s*(<=|>=|<|>)\\s*' + NUMBER + '$');
  const RIGHT = new RegExp('^' + NUMBER + '\\s*(<=|>=|<|>)\\s*' + RESULT + '$');
  const FLIP = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

  // A condition that compares the result with one number (`result < 0.5`,
  // `result[0] >= 0.95`, also behind the usual `len(result) == 0 ||` guard)
  // becomes a line; anything else is said in words instead.
  function threshold(condition) {
    if (typeof condition !== 'string' || condition.trim() === '') return null;
    const c = condition.trim().replace(/^len\(result\)\s*==\s*0\s*\|\|\s*/, '');
    let m = LEFT.exec(c);
    if (m) return { op: m[1], value: Number(m[2]) };
    m = RIGHT.exec(c);
    if (m) return { op: FLIP[m[2]], value: Number(m[1]) };
    return { reason: 'not a single comparison of result with a number' };
  }

  // The server reads the thresholds (`thresholds`, one per comparison found); a condition
  // with exactly one is drawn, one with several (a range, an `||`) is said in words.
  function thresholdOf(m, kind, condition) {
    if (!Array.isArray(m.thresholds)) return threshold(condition);
    if (typeof condition !== 'string' || condition.trim() === '') return null;
    const mine = m.thresholds.filter((t) => t && t.condition === kind && typeof t.value === 'number' && isFinite(t.value));
    if (mine.length === 1 && typeof mine[0].operator === 'string' && /^(<|<=|>|>=|==)$/.test(mine[0].operator)) return { op: mine[0].operator, value: mine[0].value };
    if (mine.length > 1) return { reason: 'more than one comparison with a number' };
    return { reason: 'not a comparison of result with a number' };
  }

  function measuredValue(v) {
    if (typeof v === 'number') return isFinite(v) ? v : null;
    if (typeof v !== 'string') return null;
    const t = v.trim();
    if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
    if (t.startsWith('[')) {
      try {
        const a = JSON.parse(t);
        if (Array.isArray(a) && a.length > 0) return measuredValue(typeof a[0] === 'number' ? a[0] : str(a[0]));
      } catch (e) { return null; }
    }
    return null;
  }

  function valueOf(x) {
    return x && typeof x.number === 'number' && isFinite(x.number) ? x.number : measuredValue(x && x.value);
  }

  const SHAPES = {
    Successful: { cls: 'ok', word: 'successful', path: null },
    Failed: { cls: 'failed', word: 'failed', path: 'M-5,-5L5,5M-5,5L5,-5' },
    Error: { cls: 'error', word: 'error', path: 'M0,-6L6,5L-6,5Z' },
    Inconclusive: { cls: 'inconclusive', word: 'inconclusive', path: 'M0,-6L6,0L0,6L-6,0Z' },
  };
  function shapeFor(phase) {
    return Object.prototype.hasOwnProperty.call(SHAPES, phase) ? SHAPES[phase] : { cls: 'other', word: 'running', path: null };
  }

  function marker(phase) {
    const sh = shapeFor(phase);
    const g = svg('g', { class: 'pt pt-' + sh.cls });
    if (sh.path) g.appendChild(svg('path', { d: sh.path }));
    else g.appendChild(svg('circle', { r: '4.5' }));
    return g;
  }

  function fmt(n) {
    if (!isFinite(n)) return String(n);
    const a = Math.abs(n);
    return a !== 0 && (a < 0.001 || a >= 1e6) ? n.toExponential(2) : String(Number(n.toPrecision(4)));
  }

  function metricBlock(m, key) {
    const ms = list(m.measurements);
    const success = thresholdOf(m, 'success', m.successCondition);
    const failure = thresholdOf(m, 'failure', m.failureCondition);
    const counts = {};
    for (const x of ms) counts[shapeFor(x && x.phase).word] = (counts[shapeFor(x && x.phase).word] || 0) + 1;
    const notes = [];
    for (const [kind, cond, t] of [['success', m.successCondition, success], ['failure', m.failureCondition, failure]]) {
      if (t && t.reason) notes.push(el('li', null, 'No ' + kind + ' line: ', el('code', null, str(cond)), ' is ' + t.reason + '.'));
    }
    return el('div', { class: 'metric' },
      el('h4', null, badge(m.phase), ' ', text(m.name)),
      dl([['Success when', m.successCondition ? el('code', null, str(m.successCondition)) : null],
        ['Failure when', m.failureCondition ? el('code', null, str(m.failureCondition)) : null],
        ['Message', m.message]]),
      ms.length === 0 ? el('p', { class: 'muted' }, 'No measurements yet.') : chart(m, ms, success, failure),
      notes.length ? el('ul', { class: 'notes' }, notes) : null,
      ms.length ? legend(counts, success, failure, ms.some((x) => valueOf(x) === null)) : null,
      ms.length ? el('details', { 'data-key': key },
        el('summary', { 'data-key': key + ':s' }, 'Measurements as a table'),
        el('table', { class: 'measurements' },
          el('thead', null, el('tr', null, ['Time', 'Value', 'Phase'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', null, ms.map((x) => el('tr', null,
            el('td', null, timeCell(x.time || x.startedAt || x.finishedAt)), el('td', null, text(x.value)), el('td', null, badge(x.phase))))))) : null);
  }

  function legend(counts, success, failure, valueless) {
    const items = [];
    for (const phase of ['Successful', 'Failed', 'Error', 'Inconclusive']) {
      const sh = shapeFor(phase);
      if (!counts[sh.word]) continue;
      items.push(el('li', null, svg('svg', { viewBox: '-7 -7 14 14', class: 'legend-mark', 'aria-hidden': 'true' }, marker(phase)), ' ' + sh.word + ' (' + counts[sh.word] + ')'));
    }
    for (const [kind, t] of [['success', success], ['failure', failure]]) {
      if (!t || t.reason) continue;
      items.push(el('li', null, svg('svg', { viewBox: '0 0 24 8', class: 'legend-line', 'aria-hidden': 'true' },
        svg('line', { x1: '0', y1: '4', x2: '24', y2: '4', class: 'threshold threshold-' + kind })), ' ' + kind + ' when result ' + t.op + ' ' + fmt(t.value)));
    }
    if (valueless) {
      items.push(el('li', null, svg('svg', { viewBox: '-7 -7 14 14', class: 'legend-mark', 'aria-hidden': 'true' },
        svg('g', { class: 'pt pt-other pt-novalue' }, svg('circle', { r: '4.5' }))), ' hollow, on the bottom edge: no number (an empty result or an error)'));
    }
    return el('ul', { class: 'legend plain' }, items);
  }

  function chart(m, ms, success, failure) {
    const W = 640, H = 220, L = 60, R = 16, T = 14, B = 34;
    const pts = ms.map((x, i) => {
      const t = parseTime(x && (x.time || x.startedAt || x.finishedAt));
      const v = valueOf(x);
      return { i, t: isNaN(t) ? null : t, v, phase: x && x.phase, raw: x };
    });
    const useTime = pts.every((p) => p.t !== null) && pts.length > 0;
    const xs = pts.map((p) => (useTime ? p.t : p.i));
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    const ys = pts.filter((p) => p.v !== null).map((p) => p.v);
    for (const t of [success, failure]) if (t && !t.reason) ys.push(t.value);
    let y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
    // The axis starts at zero, so a small wobble does not look like a big swing.
    if (y0 > 0) y0 = 0;
    if (y1 < 0) y1 = 0;
    if (y0 === y1) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.06;
    y0 -= pad; y1 += pad;
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    const last = pts.filter((p) => p.v !== null).pop();
    const failed = pts.filter((p) => p.phase === 'Failed').length;
    const label = str(m.name) + ': ' + pts.length + ' measurements, ' + failed + ' failed' + (last ? ', last ' + fmt(last.v) : '') +
      (success && !success.reason ? '; success when result ' + success.op + ' ' + fmt(success.value) : '') +
      (failure && !failure.reason ? '; failure when result ' + failure.op + ' ' + fmt(failure.value) : '');
    const root = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': label });
    root.appendChild(svg('title', null, label));
    root.appendChild(svg('rect', { class: 'plot', x: L, y: T, width: W - L - R, height: H - T - B }));
    for (const v of [y0 + pad, (y0 + y1) / 2, y1 - pad]) {
      root.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: sy(v), y2: sy(v) }));
      root.appendChild(svg('text', { class: 'axis', x: L - 6, y: sy(v) + 4, 'text-anchor': 'end' }, fmt(v)));
    }
    const xLabel = (v) => (useTime ? clock(v) : '#' + (v + 1));
    root.appendChild(svg('text', { class: 'axis', x: L, y: H - 10, 'text-anchor': 'start' }, xLabel(Math.min(...xs))));
    root.appendChild(svg('text', { class: 'axis', x: W - R, y: H - 10, 'text-anchor': 'end' }, xLabel(Math.max(...xs))));
    for (const [kind, t] of [['success', success], ['failure', failure]]) {
      if (!t || t.reason) continue;
      const y = sy(t.value);
      root.appendChild(svg('line', { class: 'threshold threshold-' + kind, 'data-kind': kind, x1: L, x2: W - R, y1: y, y2: y }));
      // Above the line, or below it when the line runs along the top.
      root.appendChild(svg('text', { class: 'threshold-label label-' + kind, x: W - R - 4, y: y - T < 16 ? y + 14 : y - 5, 'text-anchor': 'end' },
        kind + ': result ' + t.op + ' ' + fmt(t.value)));
    }
    const valued = pts.filter((p) => p.v !== null);
    if (valued.length > 1) {
      root.appendChild(svg('polyline', { class: 'series', points: valued.map((p) => sx(useTime ? p.t : p.i) + ',' + sy(p.v)).join(' ') }));
    }
    for (const p of pts) {
      const x = sx(useTime ? p.t : p.i);
      // A measurement without a number (an error, an empty answer) sits on the bottom edge.
      const y = p.v === null ? H - B : sy(p.v);
      const g = marker(p.phase);
      if (p.v === null) g.setAttribute('class', g.getAttribute('class') + ' pt-novalue');
      g.setAttribute('transform', 'translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')');
      g.setAttribute('data-phase', shapeFor(p.phase).word);
      const when = p.t !== null ? clock(p.t) + ' ' : '';
      const extra = p.raw && p.raw.message ? ' — ' + str(p.raw.message) : '';
      g.appendChild(svg('title', null, when + 'value ' + text(p.raw && p.raw.value) + ': ' + shapeFor(p.phase).word + extra));
      root.appendChild(g);
    }
    return el('figure', { class: 'chart-box' }, root);
  }

  // ---- Actions: only when the server says so (`--allow-actions`) -----------
  //
  // Each button opens a modal <dialog> that says what will happen; nothing is
  // sent until Confirm. The request carries the session's CSRF token and is
  // JSON, so no other site's page can send one. The outcome stays on the page
  // (kept across re-draws) in words, and the live stream shows the effect.

  const session = { loaded: false, actions: false, csrf: '' };
  const outcomes = new Map(); // 'ns/name' → { kind: 'sending'|'ok'|'failed', text }

  async function loadSession() {
    let body = null;
    try {
      const res = await fetch('/api/session', { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
      body = res.ok ? await res.json() : null;
    } catch (e) { body = null; }
    session.actions = !!(body && body.actions === true && typeof body.csrf === 'string' && body.csrf !== '');
    session.csrf = session.actions ? body.csrf : '';
    session.loaded = true;
    document.documentElement.setAttribute('data-actions', session.actions ? 'on' : 'off');
  }

  const ACTIONS = [
    { verb: 'promote', label: 'Promote', says: 'ends the current pause: the update goes on to its next step.' },
    { verb: 'promote-full', label: 'Promote full', says: 'skips every remaining step (blue-green: straight to the cutover): the new version takes all the traffic at once, with no more analysis.' },
    { verb: 'abort', label: 'Abort', danger: true, says: 'aborts the update: traffic goes back to the stable version and the new version is scaled down.' },
    { verb: 'retry', label: 'Retry', says: 'starts an aborted update again from its first step.' },
    { verb: 'undo', label: 'Undo', says: 'puts back a previous revision\'s pod template: that version is rolled out again through the steps.' },
    { verb: 'restart', label: 'Restart', says: 'recreates the pods, a few at a time.' },
    { verb: 'set-image', label: 'Set image…', says: 'changes one container\'s image: the new image is rolled out through the steps.' },
  ];

  function routeKey(route) { return route.namespace + '/' + route.name; }

  function actionsSection(route, s) {
    if (!session.actions) return null;
    const key = routeKey(route);
    const o = outcomes.get(key);
    const result = el('p', { id: 'action-result', class: 'action-result' + (o ? ' result-' + o.kind : ''), role: 'status', 'aria-live': 'polite' },
      o ? outcomeContent(o) : null);
    return section('actions', 'Actions', el('div', { class: 'action-bar' }, ACTIONS.map((a) => {
      const b = el('button', { type: 'button', class: a.danger ? 'danger' : null, 'data-key': 'action:' + a.verb, 'data-verb': a.verb }, a.label);
      b.addEventListener('click', () => confirmAction(route, a, s));
      return b;
    })), result);
  }

  let dialog = null;
  function dialogBox() {
    if (dialog) return dialog;
    dialog = el('dialog', { id: 'confirm', 'aria-labelledby': 'confirm-h', 'aria-describedby': 'confirm-d' });
    document.body.appendChild(dialog);
    return dialog;
  }

  function field(id, label, control, hint) {
    return el('div', { class: 'field' }, el('label', { for: id }, label), control, hint ? el('span', { class: 'muted hint', id: id + '-hint' }, hint) : null);
  }

  // The dialog for one action: what it does, its fields (undo, set image), Cancel and Confirm.
  function confirmAction(route, a, s) {
    const o = outcomes.get(routeKey(route));
    if (o && o.kind === 'sending') return; // one at a time: the outcome says when it is done
    const d = dialogBox();
    const who = route.namespace + '/' + route.name;
    const fields = [];
    let body = () => ({});
    if (a.verb === 'undo') {
      const revs = list(s.revisions).map((r) => r && r.revision).filter((n) => typeof n === 'number' && isFinite(n));
      const select = el('select', { id: 'confirm-revision' }, el('option', { value: '' }, 'The revision before the current one'),
        revs.slice(1).map((n) => el('option', { value: String(n) }, 'Revision ' + n)));
      fields.push(field('confirm-revision', 'Go back to', select));
      body = () => (select.value ? { revision: Number(select.value) } : {});
    } else if (a.verb === 'set-image') {
      const container = el('input', { id: 'confirm-container', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'confirm-container-hint' });
      const image = el('input', { id: 'confirm-image', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'registry.example/web:2.0' });
      const current = list(s.images).map((i) => (i && typeof i === 'object' ? str(i.image) : str(i))).filter((x) => x);
      fields.push(field('confirm-container', 'Container', container, 'The container\'s name in the pod template (often the app\'s name).'),
        field('confirm-image', 'New image', image, current.length ? 'Now: ' + current.join(', ') : null));
      body = () => ({ container: container.value.trim(), image: image.value.trim() });
    }
    const problem = el('p', { class: 'error-text', role: 'alert' });
    const cancel = el('button', { type: 'button', 'data-role': 'cancel' }, 'Cancel');
    const confirm = el('button', { type: 'button', 'data-role': 'confirm', class: a.danger ? 'danger' : 'primary' }, a.label.replace('…', ''));
    d.replaceChildren(
      el('h2', { id: 'confirm-h' }, a.label.replace('…', '') + ' ' + who + '?'),
      el('p', { id: 'confirm-d' }, a.label.replace('…', '') + ' ' + a.says + ' It is sent as the user this dashboard acts for; the API server may still refuse it.'),
      ...fields, problem,
      el('div', { class: 'dialog-buttons' }, cancel, confirm));
    const opener = a.verb;
    const done = () => {
      if (d.open) d.close();
      const again = main.querySelector('[data-verb="' + opener + '"]');
      if (again) again.focus();
    };
    cancel.addEventListener('click', done);
    // Escape closes a modal <dialog> by itself (the cancel event); focus goes back to the button either way.
    d.oncancel = (e) => { e.preventDefault(); done(); }; // replaces the previous dialog's handler
    const go = () => {
      const b = body();
      if (a.verb === 'set-image' && (!b.container || !b.image)) {
        problem.textContent = 'Give both the container\'s name and the new image.';
        (b.container ? d.querySelector('#confirm-image') : d.querySelector('#confirm-container')).focus();
        return;
      }
      done();
      send(route, a, b);
    };
    confirm.addEventListener('click', go);
    for (const input of d.querySelectorAll('input')) input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); go(); } });
    d.showModal();
    // Focus goes into the dialog: the first field, or Cancel (so a stray Enter does nothing).
    (d.querySelector('input, select') || cancel).focus();
  }

  const OUTCOME_ICONS = { sending: '…', ok: '✔', failed: '✖' };
  function outcomeContent(o) {
    return [el('span', { class: 'icon', 'aria-hidden': 'true' }, OUTCOME_ICONS[o.kind]), ' ', o.text];
  }

  // In place, so the one live region says it; a later re-draw draws it again from `outcomes`.
  function setOutcome(route, kind, text) {
    outcomes.set(routeKey(route), { kind, text });
    const r = state.route;
    if (!r || r.view !== 'detail' || routeKey(r) !== routeKey(route)) return;
    const p = document.getElementById('action-result');
    if (p) {
      p.className = 'action-result result-' + kind;
      p.replaceChildren(...outcomeContent({ kind, text }));
    }
  }

  async function send(route, a, body) {
    const who = route.namespace + '/' + route.name;
    const url = '/api/rollouts/' + encodeURIComponent(route.namespace) + '/' + encodeURIComponent(route.name) + '/actions/' + a.verb;
    setOutcome(route, 'sending', 'Sending ' + a.label.replace('…', '') + ' for ' + who + '…');
    let res, data = null;
    try {
      res = await fetch(url, {
        method: 'POST', cache: 'no-store', credentials: 'same-origin', body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Aviary-CSRF': session.csrf },
      });
    } catch (e) {
      setOutcome(route, 'failed', a.label.replace('…', '') + ' for ' + who + ': could not reach the Aviary server, so it may not have been sent. The page shows the rollout as it is once the live stream is back.');
      return;
    }
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.ok && data && data.ok === true) {
      setOutcome(route, 'ok', who + ': ' + str(data.message) + '.');
      return;
    }
    const said = data && typeof data.error === 'string' ? data.error : 'the server answered ' + res.status;
    // A stale token (the server restarted): take the new one, so trying again works.
    if (res.status === 403) loadSession();
    setOutcome(route, 'failed', 'Not done: ' + said + (/[.!?]$/.test(said) ? '' : '.'));
  }

  // ---- Events and the report -----------------------------------------------

  function eventsSection(events) {
    if (events.length === 0) return section('events', 'Events', el('p', { class: 'muted' }, 'No events (the API server keeps them an hour by default).'));
    const sorted = events.map((e, i) => ({ e, i, t: parseTime(e && (e.time || e.lastTimestamp || e.eventTime)) }))
      .sort((a, b) => (isNaN(a.t) || isNaN(b.t) || a.t === b.t ? a.i - b.i : a.t - b.t));
    return section('events', 'Events', el('div', { class: 'table-wrap' }, el('table', { class: 'events' },
      el('thead', null, el('tr', null, ['Time', 'Type', 'Reason', 'Message'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, sorted.map(({ e }) => el('tr', { class: e.type === 'Warning' ? 'warning' : null },
        el('td', null, timeCell(e.time || e.lastTimestamp || e.eventTime)),
        el('td', null, e.type === 'Warning'
          ? el('span', { class: 'badge badge-bad' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, '⚠'), ' Warning')
          : el('span', { class: 'badge badge-info' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, 'ℹ'), ' ' + text(e.type))),
        el('td', null, text(e.reason)),
        el('td', { class: 'message' }, text(e.message))))))));
  }

  function versionText(v) {
    if (!v || typeof v !== 'object') return null;
    return 'revision ' + text(v.revision) + ': ' + list(v.images).map(str).join(', ') + (v.replicaSet ? ' (ReplicaSet ' + str(v.replicaSet) + ')' : '');
  }

  function reportSection(r) {
    const t = r.trigger && typeof r.trigger === 'object' ? r.trigger : null;
    const tr = r.traffic && typeof r.traffic === 'object' ? r.traffic : null;
    return section('report', 'What happened in the last update',
      dl([['Outcome', r.outcome === 'aborted' ? badge('Aborted') : text(r.outcome)],
        ['Before', versionText(r.before)], ['After', versionText(r.after)],
        ['Started', r.startedAt ? timeCell(r.startedAt) : null], ['Ended', r.endedAt ? timeCell(r.endedAt) : null]]),
      t ? el('div', { class: 'trigger' }, el('h3', null, 'Trigger'), dl([
        ['Cause', t.cause], ['Run', t.run], ['Metric', t.metric],
        ['Measured', list(t.values).length ? list(t.values).map(str).join(', ') : null],
        ['Condition', t.condition ? el('code', null, str(t.condition)) : null],
        ['Counted', t.failed !== undefined && t.failed !== null ? text(t.failed) + ' failed, ' + text(t.errors) + ' errors of ' + text(t.measurements) + ' (limit ' + text(t.limit) + ')' : null],
        ['Message', t.message]])) : null,
      tr ? el('p', null, 'The new version had up to ' + text(tr.maxWeight) + ' % of the traffic' + (typeof tr.seconds === 'number' ? ' for ' + age(tr.seconds) : '') + '.') : null,
      list(r.timeline).length ? el('details', { 'data-key': 'report:timeline', open: true }, el('summary', { 'data-key': 'report:timeline:s' }, 'Timeline'),
        el('ol', { class: 'timeline' }, list(r.timeline).map((e) => el('li', { class: e.warning ? 'warning' : null },
          timeCell(e.time), ' ', e.warning ? el('span', { class: 'badge badge-bad' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, '⚠'), ' ') : null, text(e.text))))) : null,
      list(r.notes).length ? el('ul', { class: 'notes' }, list(r.notes).map((n) => el('li', null, str(n)))) : null);
  }

  // ---- Live updates --------------------------------------------------------

  const live = document.getElementById('live');
  function setLive(kind, words) {
    const icons = { connecting: '…', live: '●', reconnecting: '⟳', offline: '✖' };
    live.setAttribute('data-state', kind);
    live.replaceChildren(el('span', { class: 'icon', 'aria-hidden': 'true' }, icons[kind]), ' ', words);
  }

  let pending = null;
  function soon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; if (state.route) refresh(false); }, 80);
  }

  function concerns(change) {
    const r = state.route;
    if (!r) return false;
    if (r.view === 'list') return true;
    if (r.view !== 'detail') return false;
    return !change || typeof change !== 'object' || (change.namespace === r.namespace && change.name === r.name) || !change.name;
  }

  let source = null, lost = false;
  function connect() {
    if (typeof EventSource === 'undefined') { setLive('offline', 'No live updates in this browser: reload to see changes'); return; }
    source = new EventSource('/api/stream');
    source.addEventListener('open', () => {
      setLive('live', 'Live');
      if (lost) { lost = false; soon(); } // catch up on what changed while the stream was down
    });
    source.addEventListener('changed', (e) => {
      let change = null;
      try { change = JSON.parse(e.data); } catch (err) { change = null; }
      if (concerns(change)) soon();
    });
    source.addEventListener('error', () => {
      lost = true;
      setLive('reconnecting', 'Reconnecting… (live updates paused; the page catches up when the stream is back)');
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up on an answer that is not a stream (e.g. a 503); try again ourselves.
        source.close();
        setTimeout(connect, 2000);
      }
    });
  }

  // ---- Start ---------------------------------------------------------------

  window.addEventListener('hashchange', onRoute);
  setLive('connecting', 'Connecting…');
  onRoute();
  if (!state.route) { state.route = { view: 'list', namespace: '', label: '', phase: '' }; refresh(true); }
  connect();
  // Buttons appear once the server says actions are allowed; a detail page already drawn gets them then.
  loadSession().then(() => { if (session.actions && state.route && state.route.view === 'detail') refresh(false); });
})();
