// The page of `roots serve`: pick a served model, type a text, see its pipeline's answer. Texts from
// the user and labels from the model are shown with textContent only (never parsed as HTML).
const $ = (id) => document.getElementById(id);
let models = [];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

const pct = (s) => (100 * s).toFixed(1) + '%';

/** The text with each span [start, end) wrapped in a <mark> that names its label. */
function highlighted(text, spans) {
  const box = el('div', { class: 'text' });
  let at = 0;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    if (s.start < at) continue;
    box.append(text.slice(at, s.start));
    const tag = el('span', { class: 'tag' }, s.label);
    box.append(el('mark', { class: 'entity', 'data-label': s.label, title: `${s.label} ${pct(s.score)}` }, text.slice(s.start, s.end), tag));
    at = s.end;
  }
  box.append(text.slice(at));
  return box;
}

function table(head, rows) {
  const t = el('table', {}, el('tr', {}, ...head.map((h) => el('th', {}, h))));
  for (const r of rows) t.append(el('tr', {}, ...r.map((c) => el('td', {}, c))));
  return t;
}

function scoreCell(score) {
  return el('span', {}, el('span', { class: 'bar', style: `width:${Math.round(score * 120)}px` }), ' ', pct(score));
}

function render(task, text, result) {
  const out = $('output');
  out.replaceChildren();
  if (task === 'ner') {
    const spans = result.map((e) => ({ start: e.start, end: e.end, label: e.entity_group || e.entity, score: e.score }));
    out.append(highlighted(text, spans), table(['entity', 'text', 'score'], spans.map((s) => [s.label, text.slice(s.start, s.end), pct(s.score)])));
  } else if (task === 'text-classification') {
    out.append(table(['label', 'score'], result.map((l) => [el('span', { class: 'label' }, l.label), scoreCell(l.score)])));
  } else if (task === 'intent-slots') {
    const spans = result.slots.map((s) => ({ start: s.start, end: s.end, label: s.entity, score: s.score }));
    out.append(el('p', { class: 'intent' }, 'Intent: ', el('strong', { class: 'label' }, result.intent.label), ' ', pct(result.intent.score)),
      highlighted(text, spans), table(['slot', 'text', 'score'], spans.map((s) => [s.label, text.slice(s.start, s.end), pct(s.score)])));
  } else if (task === 'question-answering') {
    const answers = Array.isArray(result) ? result : [result];
    out.append(highlighted(text, answers.slice(0, 1).map((a) => ({ start: a.start, end: a.end, label: 'answer', score: a.score }))),
      table(['answer', 'score'], answers.map((a) => [el('span', { class: 'label' }, a.answer), scoreCell(a.score)])));
  } else if (task === 'fill-mask') {
    const lists = Array.isArray(result[0]) ? result : [result];
    lists.forEach((list, i) => {
      if (lists.length > 1) out.append(el('p', {}, `mask ${i + 1}`));
      out.append(table(['token', 'score', 'sequence'], list.map((r) => [el('span', { class: 'label' }, r.token_str), scoreCell(r.score), r.sequence])));
    });
  } else if (task === 'relation-classification') {
    const ranked = Array.isArray(result) ? result : [result];
    out.append(table(['relation', 'score'], ranked.map((r) => [el('span', { class: 'label' }, r.relation), scoreCell(r.score)])));
  } else if (task === 'zero-shot-classification') {
    out.append(table(['label', 'score'], result.labels.map((l, i) => [el('span', { class: 'label' }, l), scoreCell(result.scores[i])])));
  } else {
    out.append(el('pre', {}, JSON.stringify(result, null, 2)));
  }
}

function selected() {
  return models.find((m) => m.name === $('model').value);
}

function showAdapters() {
  const m = selected();
  const box = $('adapter-box');
  const list = m ? m.adapters : [];
  box.hidden = list.length === 0;
  $('question-box').hidden = m?.task !== 'question-answering';
  // A relation model reads the two entities marked in the text.
  $('text').placeholder = m?.task === 'relation-classification' ? 'Mark two entities: The <e1>author</e1> of a keygen uses a <e2>disassembler</e2>.' : 'Type a sentence';
  $('adapter').replaceChildren(el('option', { value: '' }, '(base model)'), ...list.map((a) => el('option', { value: a }, a)));
}

async function predict() {
  const m = selected();
  const text = $('text').value;
  $('error').textContent = '';
  if (!m) return;
  const body = { inputs: m.task === 'question-answering' ? { question: $('question').value, context: text } : text };
  if (m.task === 'text-classification' || m.task === 'relation-classification') body.parameters = { top_k: null };
  if ($('adapter').value) body.adapter = $('adapter').value;
  $('run').disabled = true;
  try {
    const res = await fetch(`v1/models/${encodeURIComponent(m.name)}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(`${res.status}: ${json.error}`);
    render(m.task, text, json);
  } catch (e) {
    $('output').replaceChildren();
    $('error').textContent = e.message;
  } finally {
    $('run').disabled = false;
  }
}

async function start() {
  try {
    const res = await fetch('v1/models');
    models = (await res.json()).models;
    $('model').replaceChildren(...models.map((m) => el('option', { value: m.name }, `${m.name} (${m.task})`)));
    $('meta').textContent = `${models.length} model${models.length === 1 ? '' : 's'} served`;
    showAdapters();
  } catch (e) {
    $('meta').textContent = `Could not list the models: ${e.message}`;
  }
}

$('model').addEventListener('change', showAdapters);
$('run').addEventListener('click', predict);
$('text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) predict(); });
start();
