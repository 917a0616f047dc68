// The annotator's workspace: keyboard answering, drafts that survive a reload, active
// (visible-tab) time per item, the lease warning, the guideline side panel and the
// skip/flag/shortcut dialogs. Loaded as a file because the CSP forbids inline scripts;
// the server renders everything, this only adds behaviour. Drafts are keyed by the
// item's opaque handle and hold nothing but the annotator's own answers.
(() => {
  "use strict";

  const DRAFT_PREFIX = "jb-draft:";
  const DRAFT_TTL_MS = 3 * 24 * 3600 * 1000;
  const WARN_BEFORE_MS = 60 * 1000;
  const TICK_MS = 1000;
  const TIMING_FIELDS = new Set(["csrfmiddlewaretoken", "active_seconds", "first_interaction_at", "submission_token"]);

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  let item = null; // the item on screen: {handle, activeMs, last, counting, first, token, leaseAt, offset}
  let focused = document.hasFocus();
  const initialised = new WeakSet();

  // ---- small helpers ---------------------------------------------------------------

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function randomToken() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function storage() {
    try {
      return window.localStorage;
    } catch (error) {
      return null; // private mode or disabled storage: no drafts, everything else works
    }
  }

  function workspace() {
    return document.getElementById("workspace");
  }

  function itemForm() {
    return document.getElementById("ws-form");
  }

  function activeForm() {
    const ws = workspace();
    if (!ws) return null;
    const inside = document.activeElement && document.activeElement.closest(".ws-form");
    return (inside && ws.contains(inside) ? inside : null) || $(".ws-form", ws);
  }

  function cellsOf(form) {
    return form ? $$(".ws-cell", form) : [];
  }

  function isTyping(element) {
    if (!element || !element.tagName) return false;
    if (element.isContentEditable) return true;
    if (element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
    if (element.tagName !== "INPUT") return false;
    return !["radio", "checkbox", "button", "submit", "hidden"].includes(element.type);
  }

  // ---- active time -----------------------------------------------------------------
  // Counted only while the tab is visible and the window has focus; each interval is
  // capped so a laptop waking from sleep does not add the time it slept. The server
  // clamps the figure again to the time between serving and submitting.

  function isActive() {
    // Read live: a cached flag misses the focus a page already had when it loaded.
    focused = document.hasFocus();
    return document.visibilityState === "visible" && focused;
  }

  function account() {
    if (!item) return;
    const now = performance.now();
    if (item.counting) item.activeMs += Math.min(now - item.last, 5 * TICK_MS);
    item.last = now;
    item.counting = isActive();
  }

  function setFocused(value) {
    account(); // close the interval at the moment focus changes
    focused = value;
    if (item) item.counting = value && document.visibilityState === "visible";
  }

  window.addEventListener("focus", () => setFocused(true));
  window.addEventListener("blur", () => setFocused(false));
  document.addEventListener("visibilitychange", () => {
    account();
    if (document.visibilityState === "hidden") saveDraft();
  });
  window.addEventListener("pagehide", () => {
    account();
    saveDraft();
  });

  function formatSeconds(ms) {
    const total = Math.floor(ms / 1000);
    const minutes = Math.floor(total / 60);
    const seconds = String(total % 60).padStart(2, "0");
    return `${minutes}:${seconds}`;
  }

  // ---- drafts ----------------------------------------------------------------------

  function draftKey(handle) {
    return DRAFT_PREFIX + handle;
  }

  function formFields(form) {
    const fields = [];
    for (const [name, value] of new FormData(form).entries()) {
      if (!TIMING_FIELDS.has(name) && typeof value === "string") fields.push([name, value]);
    }
    return fields;
  }

  function saveDraft() {
    const form = itemForm();
    const store = storage();
    if (!item || !form || !store) return;
    const draft = {
      v: 1,
      t: Date.now(),
      fields: formFields(form),
      activeMs: Math.round(item.activeMs),
      first: item.first,
      token: item.token,
    };
    try {
      store.setItem(draftKey(item.handle), JSON.stringify(draft));
    } catch (error) {
      // Storage full: the draft is a convenience, the submit does not depend on it.
    }
  }

  function readDraft(handle) {
    const store = storage();
    if (!store) return null;
    try {
      const draft = JSON.parse(store.getItem(draftKey(handle)) || "null");
      return draft && draft.v === 1 ? draft : null;
    } catch (error) {
      return null;
    }
  }

  function dropDraft(handle) {
    const store = storage();
    if (store && handle) store.removeItem(draftKey(handle));
  }

  function sweepDrafts() {
    const store = storage();
    if (!store) return;
    for (let i = store.length - 1; i >= 0; i -= 1) {
      const key = store.key(i);
      if (!key || !key.startsWith(DRAFT_PREFIX)) continue;
      try {
        const draft = JSON.parse(store.getItem(key) || "null");
        if (!draft || Date.now() - draft.t > DRAFT_TTL_MS) store.removeItem(key);
      } catch (error) {
        store.removeItem(key);
      }
    }
  }

  function applyFields(form, fields) {
    const values = new Map();
    for (const [name, value] of fields) {
      if (!values.has(name)) values.set(name, []);
      values.get(name).push(value);
    }
    for (const element of form.elements) {
      if (!element.name || TIMING_FIELDS.has(element.name)) continue;
      const given = values.get(element.name) || [];
      if (element.type === "radio" || element.type === "checkbox") {
        element.checked = given.includes(element.value);
      } else if (values.has(element.name)) {
        element.value = given[0];
      }
    }
    $$(".ws-cell[data-type=pairwise]", form).forEach(updateStrength);
    $$("[data-rank]", form).forEach(orderRankByPositions);
  }

  // ---- answering -------------------------------------------------------------------

  function choiceInputs(cell) {
    return $$("input[type=radio]:not([data-strength]), input[type=checkbox]", cell);
  }

  function strengthInputs(cell) {
    return $$("input[data-strength]", cell);
  }

  function keysOf(input) {
    return (input.dataset.keys || "").split(" ").filter(Boolean);
  }

  function changed(input) {
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function pairwiseChoice(cell) {
    const checked = choiceInputs(cell).find((input) => input.checked);
    return checked ? checked.value : "";
  }

  function updateStrength(cell) {
    const strength = strengthInputs(cell);
    if (!strength.length) return;
    const tie = pairwiseChoice(cell) === "tie";
    strength.forEach((input) => {
      input.disabled = tie;
      if (tie) input.checked = false;
    });
  }

  function isAnswered(cell) {
    const type = cell.dataset.type;
    if (type === "numeric" || type === "text") {
      const field = $("input, textarea", cell);
      return Boolean(field && field.value.trim());
    }
    if (type === "ranking") {
      const values = $$("select", cell).map((select) => select.value);
      return values.every(Boolean) && new Set(values).size === values.length;
    }
    if (type === "pairwise") {
      const choice = pairwiseChoice(cell);
      if (!choice) return false;
      return choice === "tie" || !strengthInputs(cell).length || strengthInputs(cell).some((i) => i.checked);
    }
    return choiceInputs(cell).some((input) => input.checked);
  }

  function problemOf(cell) {
    const type = cell.dataset.type;
    if (type === "pairwise" && pairwiseChoice(cell) && pairwiseChoice(cell) !== "tie"
        && strengthInputs(cell).length && !strengthInputs(cell).some((i) => i.checked)) {
      return "Say how much better (press 1 or 2).";
    }
    if (type === "ranking") {
      const values = $$("select", cell).map((select) => select.value).filter(Boolean);
      if (values.length && !isAnswered(cell)) return "Rank every response exactly once.";
    }
    if (cell.hasAttribute("data-required") && !isAnswered(cell)) return "This question is required.";
    return "";
  }

  function showProblem(cell, message) {
    const error = $(".ws-err", cell);
    cell.classList.toggle("ws-invalid", Boolean(message));
    if (error) {
      error.textContent = message;
      error.hidden = !message;
    }
  }

  function validate(form) {
    const invalid = [];
    for (const cell of cellsOf(form)) {
      const message = problemOf(cell);
      showProblem(cell, message);
      if (message) invalid.push(cell);
    }
    const summary = $("#ws-summary", form);
    if (summary) {
      summary.hidden = !invalid.length;
      summary.textContent = invalid.length === 1
        ? "One question needs an answer."
        : `${invalid.length} questions need an answer.`;
    }
    if (invalid.length) focusCell(invalid[0], true);
    return !invalid.length;
  }

  function focusTarget(cell) {
    if (cell.dataset.type === "numeric" || cell.dataset.type === "text") {
      return $("input, textarea", cell) || cell;
    }
    return cell;
  }

  function focusCell(cell, scroll) {
    if (!cell) return;
    const target = focusTarget(cell);
    target.focus({ preventScroll: true });
    if (scroll) cell.scrollIntoView({ block: "nearest" });
  }

  function currentCell(form) {
    const cells = cellsOf(form);
    const here = document.activeElement && document.activeElement.closest(".ws-cell");
    if (here && cells.includes(here)) return here;
    return cells.find((cell) => !isAnswered(cell)) || null;
  }

  function moveCell(form, from, step) {
    const cells = cellsOf(form);
    const index = from ? cells.indexOf(from) : -1;
    const next = cells[index + step];
    if (next) {
      focusCell(next, true);
      return true;
    }
    if (step > 0) {
      const submit = $("button[type=submit]", form);
      if (submit) submit.focus();
      return true;
    }
    return false;
  }

  function advance(form, cell) {
    moveCell(form, cell, 1);
  }

  function touched() {
    if (!item) return;
    if (!item.first) {
      item.first = new Date().toISOString();
      const url = workspace() && workspace().dataset.interactUrl;
      if (url) {
        fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
          .catch(() => {});
      }
    }
    saveDraft();
  }

  // Ranking: press letters best first; the list and the position selects follow.
  function rankItems(list) {
    return $$(".ws-rank-item", list);
  }

  function orderRankByPositions(list) {
    const items = rankItems(list);
    const ranked = items.filter((li) => $("select", li).value)
      .sort((a, b) => Number($("select", a).value) - Number($("select", b).value));
    const rest = items.filter((li) => !$("select", li).value);
    [...ranked, ...rest].forEach((li) => list.appendChild(li));
  }

  function positionsFromOrder(list) {
    rankItems(list).forEach((li, index) => {
      $("select", li).value = String(index + 1);
    });
  }

  function rankLetter(cell, letter) {
    const list = $("[data-rank]", cell);
    const li = rankItems(list).find((el) => el.dataset.letter.toLowerCase() === letter);
    if (!li) return false;
    const select = $("select", li);
    if (!select.value) {
      const used = rankItems(list).filter((el) => $("select", el).value).length;
      select.value = String(used + 1);
      orderRankByPositions(list);
      changed(select);
    }
    return true;
  }

  function answerKey(form, cell, key, event) {
    const type = cell.dataset.type;
    const k = key.toLowerCase();
    if (type === "ranking") {
      const list = $("[data-rank]", cell);
      if (key === "Backspace") {
        $$("select", cell).forEach((select) => { select.value = ""; });
        changed($("select", cell));
        return true;
      }
      if ((key === "ArrowUp" || key === "ArrowDown") && document.activeElement.classList.contains("ws-rank-item")) {
        const li = document.activeElement;
        const sibling = key === "ArrowUp" ? li.previousElementSibling : li.nextElementSibling;
        if (sibling) list.insertBefore(li, key === "ArrowUp" ? sibling : sibling.nextElementSibling);
        positionsFromOrder(list);
        li.focus();
        changed($("select", li));
        return true;
      }
      if (key === "ArrowDown" || key === "ArrowUp") {
        const first = rankItems(list)[0];
        if (first) { first.tabIndex = -1; first.focus(); }
        return true;
      }
      if (k.length === 1 && rankLetter(cell, k)) {
        if (isAnswered(cell)) advance(form, cell);
        return true;
      }
      return false;
    }
    if (type === "pairwise") {
      const choice = choiceInputs(cell).find((input) => keysOf(input).includes(k));
      if (choice) {
        choice.checked = true;
        updateStrength(cell);
        changed(choice);
        if (isAnswered(cell)) advance(form, cell);
        else focusCell(cell);
        return true;
      }
      const strength = strengthInputs(cell).find((input) => !input.disabled && keysOf(input).includes(k));
      if (strength) {
        strength.checked = true;
        changed(strength);
        if (isAnswered(cell)) advance(form, cell);
        return true;
      }
      return false;
    }
    if (type === "likert" || type === "binary" || type === "single_choice" || type === "multi_choice") {
      const input = choiceInputs(cell).find((el) => keysOf(el).includes(k));
      if (!input) return false;
      if (input.type === "checkbox") {
        input.checked = !input.checked;
      } else {
        input.checked = true;
      }
      changed(input);
      if (input.type === "radio") advance(form, cell);
      return true;
    }
    return false;
  }

  function preferenceCell(form) {
    return $(".ws-cell[data-type=pairwise]", form);
  }

  function submit(form) {
    if (form && typeof form.requestSubmit === "function") form.requestSubmit();
  }

  // ---- dialogs and the guideline panel ---------------------------------------------

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    account();
    dialog.showModal();
    const first = $("input:checked", dialog) || $("input, button", dialog);
    if (first) first.focus();
  }

  function guidePanel() {
    return document.getElementById("ws-guide");
  }

  function toggleGuide(force) {
    const panel = guidePanel();
    const link = $("[data-ws-guide]");
    if (!panel) return;
    const open = force === undefined ? panel.hidden : force;
    panel.hidden = !open;
    if (link) link.setAttribute("aria-expanded", String(open));
    if (!open) return;
    const body = document.getElementById("ws-guide-body");
    if (link && body && !panel.dataset.loaded && window.htmx) {
      panel.dataset.loaded = "1";
      window.htmx.ajax("GET", link.getAttribute("href"), { target: "#ws-guide-body", swap: "innerHTML" });
    }
    if (body) {
      body.tabIndex = -1;
      body.focus({ preventScroll: true });
    }
  }

  function dialogKey(event, dialog) {
    const form = $("form[data-ws-dialog-form]", dialog);
    if (!form) return; // the shortcut sheet: Esc and its button close it
    const target = event.target;
    if (event.key === "Enter" && target.tagName !== "BUTTON") {
      event.preventDefault();
      submit(form);
      return;
    }
    if (isTyping(target)) return;
    const choice = $$("input[type=radio]", form).find((input) => keysOf(input).includes(event.key));
    if (choice) {
      event.preventDefault();
      choice.checked = true;
      choice.focus();
      if (choice.value === "other") {
        const other = $("input[name=reason_other]", form);
        if (other) other.focus();
      }
    }
  }

  // ---- keyboard --------------------------------------------------------------------

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    const ws = workspace();
    const dialog = $("dialog[open]");
    if (dialog) {
      dialogKey(event, dialog);
      return;
    }
    const target = event.target;
    const form = activeForm();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
      event.preventDefault();
      if (!isTyping(target) || form.contains(target)) submit(form);
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") {
      if (guidePanel() && !guidePanel().hidden) {
        toggleGuide(false);
        event.preventDefault();
      } else if (isTyping(target)) {
        const cell = target.closest(".ws-cell");
        if (cell) cell.focus();
        else target.blur();
      }
      return;
    }
    if (!ws) return;
    const inGuide = guidePanel() && guidePanel().contains(target);
    if (event.key === "Tab" && form && !inGuide) {
      const cell = target.closest && target.closest(".ws-cell");
      if ((cell && form.contains(cell)) || target === document.body) {
        if (moveCell(form, cell, event.shiftKey ? -1 : 1)) event.preventDefault();
      }
      return;
    }
    if (isTyping(target)) {
      if (event.key === "Enter" && target.tagName === "INPUT" && form && form.contains(target)) {
        event.preventDefault();
        submit(form);
      }
      return;
    }
    const key = event.key;
    if (key === "?") {
      event.preventDefault();
      openDialog("ws-keys");
      return;
    }
    if (key === "g" || key === "G") {
      event.preventDefault();
      toggleGuide();
      return;
    }
    if (key === "Enter") {
      if (target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SUMMARY") return;
      event.preventDefault();
      if (form) submit(form);
      else {
        const start = $("[data-ws-autofocus]", ws);
        if (start) start.click();
      }
      return;
    }
    if (!form) return;
    const onItem = form === itemForm();
    const cell = currentCell(form);
    if (cell && cell.dataset.type === "ranking" && answerKey(form, cell, key, event)) {
      event.preventDefault();
      return;
    }
    if (onItem && (key === "s" || key === "S")) {
      event.preventDefault();
      openDialog("ws-skip");
      return;
    }
    if (onItem && (key === "f" || key === "F")) {
      event.preventDefault();
      openDialog("ws-flag");
      return;
    }
    const preference = preferenceCell(form);
    const lower = key.toLowerCase();
    if (preference && ["a", "b", "t"].includes(lower) && (!cell || cell.dataset.type !== "ranking")) {
      if (answerKey(form, preference, key, event)) event.preventDefault();
      return;
    }
    if (cell && answerKey(form, cell, key, event)) event.preventDefault();
  });

  // ---- clicks, changes, submits --------------------------------------------------------

  document.addEventListener("click", (event) => {
    const guide = event.target.closest("[data-ws-guide]");
    if (guide) {
      event.preventDefault();
      toggleGuide();
      return;
    }
    if (event.target.closest("[data-ws-guide-close]")) {
      toggleGuide(false);
      return;
    }
    const opener = event.target.closest("[data-ws-open]");
    if (opener) {
      openDialog(opener.dataset.wsOpen);
      return;
    }
    const closer = event.target.closest("[data-ws-close]");
    if (closer && closer.closest("dialog")) closer.closest("dialog").close();
  });

  function onEdit(event) {
    const form = event.target.closest && event.target.closest(".ws-form");
    if (!form) return;
    const cell = event.target.closest(".ws-cell");
    if (cell) {
      if (cell.dataset.type === "pairwise") updateStrength(cell);
      if (cell.dataset.type === "ranking" && event.target.tagName === "SELECT" && event.type === "change") {
        orderRankByPositions($("[data-rank]", cell));
      }
      if (cell.classList.contains("ws-invalid") && !problemOf(cell)) showProblem(cell, "");
    }
    if (form === itemForm()) touched();
  }

  document.addEventListener("change", onEdit);
  document.addEventListener("input", onEdit);

  // Runs in the capture phase, before htmx sends the form: required answers are checked
  // here (the server checks again), and the timing fields are filled in.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.classList || !form.classList.contains("ws-form")) return;
    if (!validate(form)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    if (form === itemForm() && item) {
      account();
      form.elements.active_seconds.value = (item.activeMs / 1000).toFixed(2);
      form.elements.first_interaction_at.value = item.first || "";
      form.elements.submission_token.value = item.token;
      saveDraft();
    }
  }, true);

  // Ranking by dragging.
  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    const li = event.target.closest && event.target.closest(".ws-rank-item");
    if (!li) return;
    dragged = li;
    li.classList.add("ws-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.dataset.letter);
  });
  document.addEventListener("dragover", (event) => {
    const li = event.target.closest && event.target.closest(".ws-rank-item");
    if (!dragged || !li || li === dragged || li.parentElement !== dragged.parentElement) return;
    event.preventDefault();
    const box = li.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    li.parentElement.insertBefore(dragged, after ? li.nextElementSibling : li);
  });
  document.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("ws-dragging");
    const list = dragged.parentElement;
    positionsFromOrder(list);
    changed($("select", dragged));
    dragged = null;
  });

  // ---- the item on screen ----------------------------------------------------------------

  function updateClock() {
    if (!item) return;
    account();
    const timer = $("[data-ws-timer]");
    if (timer) timer.textContent = formatSeconds(item.activeMs);
    const warning = document.getElementById("ws-lease");
    if (!warning || !item.leaseAt) return;
    const left = item.leaseAt - (Date.now() + item.offset);
    if (left > WARN_BEFORE_MS) {
      warning.hidden = true;
      return;
    }
    warning.hidden = false;
    warning.textContent = left > 0
      ? `Less than a minute left on this item (${Math.ceil(left / 1000)} s): submit soon, or it goes back to the queue.`
      : "The time for this item is up. Submit now: your answers are kept if nobody else has taken the item; otherwise you get the next one.";
  }

  let ticks = 0;
  window.setInterval(() => {
    updateClock();
    ticks += 1;
    if (ticks % 5 === 0) saveDraft();
  }, TICK_MS);

  function init(ws) {
    if (!ws || initialised.has(ws)) return;
    initialised.add(ws);
    if (ws.dataset.dropDraft) dropDraft(ws.dataset.dropDraft);
    const handle = ws.dataset.handle;
    const form = itemForm();
    if (handle && form) {
      const same = item && item.handle === handle; // a refused submit: same item again
      if (!same) {
        item = {
          handle,
          activeMs: 0,
          last: performance.now(),
          counting: isActive(),
          first: null,
          token: randomToken(),
        };
        const draft = readDraft(handle);
        if (draft) {
          item.activeMs = Number(draft.activeMs) || 0;
          item.first = draft.first || null;
          item.token = draft.token || item.token;
          if (draft.fields && draft.fields.length) {
            applyFields(form, draft.fields);
            const note = document.getElementById("ws-draft-note");
            if (note) note.hidden = false;
          }
        }
        window.scrollTo(0, 0);
      }
      item.leaseAt = Number(ws.dataset.leaseExpires) || 0;
      item.offset = (Number(ws.dataset.serverNow) || Date.now()) - Date.now();
      $$(".ws-cell[data-type=pairwise]", form).forEach(updateStrength);
      const invalid = $(".ws-cell.ws-invalid", form);
      focusCell(invalid || cellsOf(form).find((cell) => !isAnswered(cell)) || cellsOf(form)[0], Boolean(invalid));
      updateClock();
      return;
    }
    item = null;
    const quiz = $("[data-ws-quiz]", ws);
    if (quiz) {
      focusCell(cellsOf(quiz)[0]);
      return;
    }
    const start = $("[data-ws-autofocus]", ws);
    if (start) start.focus({ preventScroll: true });
  }

  document.addEventListener("htmx:load", (event) => {
    if (event.target && event.target.id === "workspace") init(event.target);
  });
  document.addEventListener("DOMContentLoaded", () => {
    sweepDrafts();
    init(workspace());
    const start = !workspace() && $("[data-ws-autofocus]");
    if (start) start.focus({ preventScroll: true });
  });
})();
