// Essaim sandbox page: several phones talking to the real bot through the fake Bot API.
// No framework, no build step. The server's JSON API acts as the phones' owners; the
// event stream (/api/events) brings what the bot draws on their screens.
"use strict";

const I18N = {
  fr: {
    title: "Essaim — bac à sable",
    lede: "Le vrai bot, sans Telegram : chaque téléphone est une personne de la communauté de démonstration. Tapez /start dans le téléphone de l'habitante pour commencer.",
    citizen: "Habitante ou habitant", ambassador: "Porte-voix",
    technician: "Technicienne ou technicien", coordinator: "Coordination",
    langHint: "Langue des textes de cette page seulement : chaque téléphone garde la langue de son Telegram (« + » ajoute un téléphone dans la langue choisie ici).",
    jumpTo: "Aller au téléphone",
    inviteAsk: "Ce lien ouvre le bot avec « /start {code} ». Dans quel téléphone l'ouvrir ?",
    inviteType: "Ou tapez « /start {code} » dans le téléphone de la personne invitée.",
    inviteNew: "+ Nouveau téléphone", cancel: "Annuler",
    placeholder: "Écrire un message…", send: "Envoyer", photo: "Envoyer une photo",
    location: "Envoyer ma position", locationStub: "📍 Position partagée",
    menu: "Menu des commandes", addCitizen: "Ajouter un habitant",
    clockTitle: "Horloge du bot", plusHour: "+1 h", plusDay: "+1 jour", plusFortnight: "+14 jours",
    clockHint: "L'horloge du bot tourne en temps réel : rappels, résumés et points d'étape partent à leur heure. Les boutons la font avancer d'un coup.",
    outboxTitle: "Boîte d'envoi", queued: "en file", perSecond: "envoyés / s",
    delivered: "distribués", refusals: "refus 429", bulkMembers: "membres ajoutés",
    bulk: "+ 2 000 membres",
    bulkHint: "Ajoutez des membres puis lancez un appel : l'envoi est cadencé à 30 messages / s.",
    howTitle: "Comment faire",
    how1: "Habitante : /start, acceptez, choisissez territoire et thèmes.",
    how2: "Coordinatrice : ☰ ouvre le menu des commandes (/appel, /propositions…).",
    how3: "L'horloge du bot tourne toute seule ; « +1 h » la fait avancer. Le panneau montre l'envoi en direct.",
    photoStub: "photo", edited: "modifié", download: "Télécharger", ok: "OK", noAnswer: "Le bot n'a pas répondu.",
    emptyCitizen: "Pas encore membre : envoyez /start pour rejoindre la communauté.",
    emptyMember: "Déjà membre de la communauté de démonstration : ☰ ouvre le menu des commandes.",
  },
  en: {
    title: "Essaim — sandbox",
    lede: "The real bot, without Telegram: each phone is a person of the demo community. Type /start in the citizen's phone to begin.",
    citizen: "Citizen", ambassador: "Ambassador", technician: "Technician",
    coordinator: "Coordinator",
    langHint: "Language of this page's own texts only: each phone keeps its Telegram's language (\"+\" adds a phone in the language chosen here).",
    jumpTo: "Go to phone",
    inviteAsk: "This link opens the bot with \"/start {code}\". Open it in which phone?",
    inviteType: "Or type \"/start {code}\" in the invited person's phone.",
    inviteNew: "+ New phone", cancel: "Cancel",
    placeholder: "Write a message…", send: "Send", photo: "Send a photo",
    location: "Share my location", locationStub: "📍 Location shared",
    menu: "Command menu", addCitizen: "Add a citizen",
    clockTitle: "Bot clock", plusHour: "+1 h", plusDay: "+1 day", plusFortnight: "+14 days",
    clockHint: "The bot's clock runs in real time: reminders, digests and check-ins go out when due. The buttons jump it ahead.",
    outboxTitle: "Outbox", queued: "queued", perSecond: "sent / s",
    delivered: "delivered", refusals: "429 refusals", bulkMembers: "members added",
    bulk: "+ 2,000 members",
    bulkHint: "Add members, then send a call: delivery is paced at 30 messages / s.",
    howTitle: "How to",
    how1: "Citizen: /start, accept, pick a territory and themes.",
    how2: "Coordinator: ☰ opens the command menu (/appel, /propositions…).",
    how3: "The bot's clock runs by itself; \"+1 h\" jumps it ahead. The panel shows delivery live.",
    photoStub: "photo", edited: "edited", download: "Download", ok: "OK", noAnswer: "The bot did not answer.",
    emptyCitizen: "Not a member yet: send /start to join the community.",
    emptyMember: "Already a member of the demo community: ☰ opens the command menu.",
  },
};

const state = { lang: "fr", phones: new Map(), clock: null, bot: null };

function t(key, params = {}) {
  const text = (I18N[state.lang] && I18N[state.lang][key]) || I18N.fr[key] || key;
  return text.replace(/\{(\w+)\}/g, (_m, name) => (name in params ? String(params[name]) : _m));
}

// ---------------------------------------------------------------- invite links
// `https://t.me/<this bot>?start=<code>` cannot leave the sandbox: a click asks which phone
// opens it, and that phone sends `/start <code>` as Telegram would.
const START_LINK = /https:\/\/t\.me\/([A-Za-z0-9_]{3,64})\?start=([A-Za-z0-9_-]{1,64})/g;

function startCode(href) {
  START_LINK.lastIndex = 0;
  const found = START_LINK.exec(href || "");
  START_LINK.lastIndex = 0;
  if (!found || !state.bot || found[1].toLowerCase() !== state.bot.toLowerCase()) return null;
  return found[2];
}

function linkify(text, out) {
  let last = 0;
  START_LINK.lastIndex = 0;
  for (let found; (found = START_LINK.exec(text)) !== null;) {
    out.appendChild(document.createTextNode(text.slice(last, found.index)));
    const link = document.createElement("a");
    link.href = found[0];
    link.className = "start-link";
    link.textContent = found[0];
    out.appendChild(link);
    last = found.index + found[0].length;
  }
  out.appendChild(document.createTextNode(text.slice(last)));
}

function closeInvite() {
  const box = document.getElementById("invite");
  box.hidden = true;
  box.replaceChildren();
}

function openInvite(from, code) {
  const box = document.getElementById("invite");
  box.replaceChildren();
  const ask = document.createElement("p");
  ask.textContent = t("inviteAsk", { code });
  const choices = document.createElement("div");
  choices.className = "choices";
  const openIn = (target) => {
    closeInvite();
    target.node.scrollIntoView({ block: "start" });
    api(`/api/phones/${target.data.id}/send`, { text: `/start ${code}` })
      .catch((e) => toast(target, e.message));
  };
  for (const target of state.phones.values()) {
    if (from && target.data.id === from.data.id) continue;
    const pick = document.createElement("button");
    pick.type = "button";
    pick.dataset.invitePhone = String(target.data.id);
    pick.textContent = `${target.data.name} — ${t(target.data.role)}`;
    pick.addEventListener("click", () => openIn(target));
    choices.appendChild(pick);
  }
  const fresh = document.createElement("button");
  fresh.type = "button";
  fresh.textContent = t("inviteNew");
  fresh.addEventListener("click", async () => {
    const data = await api("/api/phones", { language: state.lang });
    openIn(state.phones.get(data.id) || buildPhone(data));
  });
  choices.appendChild(fresh);
  const typed = document.createElement("p");
  typed.className = "hint";
  typed.textContent = t("inviteType", { code });
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "cancel";
  cancel.textContent = t("cancel");
  cancel.addEventListener("click", closeInvite);
  box.append(ask, choices, typed, cancel);
  box.hidden = false;
  choices.querySelector("button").focus();
}

// ---------------------------------------------------------------- sanitising
// Only what Telegram's HTML parse mode allows survives; everything else becomes text.
const ALLOWED = new Set([
  "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
  "blockquote", "span", "tg-spoiler",
]);

function safeHref(href) {
  try {
    const url = new URL(href, "https://invalid.example/");
    if (url.origin === "https://invalid.example") return null;
    return ["http:", "https:", "tg:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch (_e) {
    return null;
  }
}

function cleanNode(node, out) {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      if (out.nodeName === "A") out.appendChild(document.createTextNode(child.nodeValue));
      else linkify(child.nodeValue, out);
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const tag = child.tagName.toLowerCase();
      if (!ALLOWED.has(tag) || (tag === "span" && !child.classList.contains("tg-spoiler"))) {
        cleanNode(child, out);
        continue;
      }
      let el;
      if (tag === "tg-spoiler" || tag === "span") {
        el = document.createElement("span");
        el.className = "spoiler";
        el.addEventListener("click", () => el.classList.toggle("shown"));
      } else if (tag === "a") {
        el = document.createElement("a");
        const href = safeHref(child.getAttribute("href") || "");
        if (href) {
          el.href = href;
          el.target = "_blank";
          el.rel = "noopener noreferrer";
        }
      } else {
        el = document.createElement(tag);
      }
      cleanNode(child, el);
      out.appendChild(el);
    }
  }
  return out;
}

function renderHtml(html) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
  return cleanNode(doc.body, document.createDocumentFragment());
}

// ---------------------------------------------------------------- HTTP
async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.error || response.statusText), { data });
  return data;
}

// ---------------------------------------------------------------- phones
function initials(name) {
  return (name || "?").trim().charAt(0).toUpperCase();
}

function buildPhone(data) {
  const node = document.getElementById("phone-template").content.firstElementChild.cloneNode(true);
  node.dataset.phone = String(data.id);
  node.dataset.role = data.role;
  node.querySelector(".name").textContent = data.name;
  node.querySelector(".avatar").textContent = initials(data.name);
  const phone = { data, node, messages: new Map(), commands: data.commands || [] };
  node.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    const code = link && startCode(link.getAttribute("href"));
    if (!code) return;
    event.preventDefault();
    openInvite(phone, code);
  });
  const jump = document.createElement("button");
  jump.type = "button";
  jump.dataset.jump = String(data.id);
  jump.textContent = data.name;
  jump.addEventListener("click", () => {
    node.scrollIntoView({ block: "start" });
    node.querySelector(".input").focus({ preventScroll: true });
  });
  document.getElementById("phone-bar").appendChild(jump);
  const form = node.querySelector(".composer");
  const input = node.querySelector(".input");
  const file = node.querySelector(".file");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    closeMenu(phone);
    api(`/api/phones/${data.id}/send`, { text }).catch((e) => toast(phone, e.message));
  });
  node.querySelector(".menu-btn").addEventListener("click", () => toggleMenu(phone));
  node.querySelector(".attach").addEventListener("click", () => file.click());
  node.querySelector(".locate").addEventListener("click", () => {
    fetch(`/api/phones/${data.id}/location`, { method: "POST" })
      .catch((e) => toast(phone, e.message));
  });
  file.addEventListener("change", () => {
    if (!file.files || !file.files[0]) return;
    const form = new FormData();
    form.append("photo", file.files[0]);
    if (input.value.trim()) {
      form.append("caption", input.value);
      input.value = "";
    }
    file.value = "";
    fetch(`/api/phones/${data.id}/photo`, { method: "POST", body: form })
      .catch((e) => toast(phone, e.message));
  });
  state.phones.set(data.id, phone);
  document.getElementById("phones").appendChild(node);
  for (const message of data.messages || []) upsert(phone, message);
  renderMenu(phone);
  labelPhone(phone);
  return phone;
}

function labelPhone(phone) {
  phone.node.dataset.role = phone.data.role;
  phone.node.querySelector(".role").textContent = t(phone.data.role);
  const jump = document.querySelector(`[data-jump="${phone.data.id}"]`);
  if (jump) jump.title = `${t("jumpTo")} : ${phone.data.name} (${t(phone.data.role)})`;
  phone.node.querySelector(".input").placeholder = t("placeholder");
  const empty = phone.node.querySelector(".empty");
  empty.textContent = t(phone.data.role === "citizen" ? "emptyCitizen" : "emptyMember");
  empty.hidden = phone.messages.size > 0;
  translateAttributes(phone.node);
}

function renderMessage(phone, message) {
  const el = document.createElement("div");
  el.className = `msg ${message.from_bot ? "bot" : "user"}`;
  el.dataset.mid = String(message.message_id);
  if (message.photo) {
    const img = document.createElement("img");
    img.src = `/api/files/${encodeURIComponent(message.photo)}`;
    img.alt = "photo";
    img.loading = "lazy";
    img.addEventListener("error", () => {
      const stub = document.createElement("div");
      stub.className = "photo-stub";
      stub.textContent = t("photoStub");
      img.replaceWith(stub);
    });
    el.appendChild(img);
  }
  if (message.document) {
    const link = document.createElement("a");
    link.className = "doc";
    link.href = `/api/phones/${phone.data.id}/document/${message.message_id}`;
    link.download = message.document.file_name || "document";
    const ext = (message.document.file_name.split(".").pop() || "").slice(0, 4).toUpperCase();
    const badge = document.createElement("span");
    badge.className = "ext";
    badge.textContent = ext || "DOC";
    link.append(badge, ` ${message.document.file_name} — ${t("download")}`);
    el.appendChild(link);
  }
  if (message.kind === "location") {
    const pin = document.createElement("span");
    pin.className = "location";
    pin.textContent = t("locationStub");
    el.appendChild(pin);
  }
  if (message.kind === "sticker") {
    const s = document.createElement("span");
    s.className = "sticker";
    s.textContent = "👍";
    el.appendChild(s);
  }
  const body = message.from_bot ? (message.html || message.text || message.caption || "")
    : (message.text || message.caption || "");
  if (body) {
    const text = document.createElement("div");
    text.className = "text";
    if (message.from_bot) text.appendChild(renderHtml(body));
    else text.textContent = body;
    el.appendChild(text);
  }
  if (message.buttons && message.buttons.length) {
    const keyboard = document.createElement("div");
    keyboard.className = "keyboard";
    for (const row of message.buttons) {
      const rowEl = document.createElement("div");
      rowEl.className = "kb-row";
      for (const label of row) {
        const url = message.button_urls && message.button_urls[label];
        const safe = url ? safeHref(url) : null;
        let button;
        if (url) {
          button = document.createElement("a");
          if (safe) {
            button.href = safe;
            button.target = "_blank";
            button.rel = "noopener noreferrer";
          }
        } else {
          button = document.createElement("button");
          button.type = "button";
          const data = message.button_data[label];
          button.addEventListener("click", () => press(phone, message.message_id, data, button));
        }
        button.className = "kb";
        button.textContent = label;
        rowEl.appendChild(button);
      }
      keyboard.appendChild(rowEl);
    }
    el.appendChild(keyboard);
  }
  if (message.edited) {
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = t("edited");
    el.appendChild(meta);
  }
  return el;
}

function upsert(phone, message) {
  const chat = phone.node.querySelector(".chat");
  const stick = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  const el = renderMessage(phone, message);
  const existing = phone.messages.get(message.message_id);
  if (existing) {
    existing.replaceWith(el);
  } else {
    // Keep order by message id even if events arrive out of order.
    let before = null;
    for (const [mid, node] of phone.messages) {
      if (mid > message.message_id && (!before || mid < Number(before.dataset.mid))) before = node;
    }
    chat.insertBefore(el, before);
  }
  phone.messages.set(message.message_id, el);
  phone.node.querySelector(".empty").hidden = true;
  if (stick || !existing) chat.scrollTop = chat.scrollHeight;
}

function remove(phone, messageId) {
  const el = phone.messages.get(messageId);
  if (el) el.remove();
  phone.messages.delete(messageId);
}

async function press(phone, messageId, data, button) {
  button.classList.add("pending");
  try {
    const answer = await api(`/api/phones/${phone.data.id}/press`, { message_id: messageId, data });
    if (answer.text) toast(phone, answer.text, answer.show_alert);
  } catch (_e) {
    toast(phone, t("noAnswer"));
  } finally {
    button.classList.remove("pending");
  }
}

function toast(phone, text, alert = false) {
  const box = phone.node.querySelector(".toast");
  box.replaceChildren(document.createTextNode(text));
  box.classList.toggle("alert", alert);
  box.hidden = false;
  clearTimeout(phone.toastTimer);
  if (alert) {
    const ok = document.createElement("button");
    ok.type = "button";
    ok.textContent = t("ok");
    ok.addEventListener("click", () => { box.hidden = true; });
    box.appendChild(ok);
  } else {
    phone.toastTimer = setTimeout(() => { box.hidden = true; }, 2500);
  }
}

function renderMenu(phone) {
  const menu = phone.node.querySelector(".menu");
  menu.replaceChildren();
  for (const { command, description } of phone.commands) {
    const item = document.createElement("button");
    item.type = "button";
    const cmd = document.createElement("span");
    cmd.className = "cmd";
    cmd.textContent = `/${command}`;
    const desc = document.createElement("span");
    desc.className = "desc";
    desc.textContent = description;
    item.append(cmd, desc);
    item.addEventListener("click", () => {
      closeMenu(phone);
      api(`/api/phones/${phone.data.id}/send`, { text: `/${command}` })
        .catch((e) => toast(phone, e.message));
    });
    menu.appendChild(item);
  }
}

function toggleMenu(phone) {
  const menu = phone.node.querySelector(".menu");
  menu.hidden = !menu.hidden || phone.commands.length === 0;
}

function closeMenu(phone) {
  phone.node.querySelector(".menu").hidden = true;
}

// ---------------------------------------------------------------- panel
function showStats(stats) {
  document.getElementById("stat-queued").textContent = stats.queued.toLocaleString(state.lang);
  document.getElementById("stat-rate").textContent = stats.per_second.toLocaleString(state.lang);
  document.getElementById("stat-delivered").textContent = stats.delivered.toLocaleString(state.lang);
  document.getElementById("stat-429").textContent = stats.too_many_requests.toLocaleString(state.lang);
  document.getElementById("stat-bulk").textContent = stats.members_added.toLocaleString(state.lang);
  if (stats.clock) showClock(stats.clock);
}

function showClock(iso) {
  state.clock = iso;
  const when = new Date(iso);
  document.getElementById("clock").textContent = when.toLocaleString(
    state.lang === "en" ? "en-GB" : "fr-FR",
    { timeZone: "Europe/Paris", weekday: "short", day: "numeric", month: "short",
      hour: "2-digit", minute: "2-digit", second: "2-digit" },
  );
}

// ---------------------------------------------------------------- language
function translateAttributes(root) {
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  translateAttributes(document);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  }
  for (const phone of state.phones.values()) labelPhone(phone);
  if (state.clock) showClock(state.clock);
}

async function setLanguage(lang) {
  state.lang = lang === "en" ? "en" : "fr";
  try { localStorage.setItem("essaim-sandbox-lang", state.lang); } catch (_e) { /* private mode */ }
  applyLanguage();
}

// ---------------------------------------------------------------- live events
async function loadState() {
  const data = await api("/api/state");
  state.bot = data.bot;
  for (const phoneData of data.phones) {
    const known = state.phones.get(phoneData.id);
    if (known) {
      known.data.role = phoneData.role;
      labelPhone(known);
      known.commands = phoneData.commands;
      renderMenu(known);
      for (const message of phoneData.messages) upsert(known, message);
    } else {
      buildPhone(phoneData);
    }
  }
  showStats(data.outbox);
}

function connect() {
  const source = new EventSource("/api/events");
  let dropped = false;
  source.addEventListener("open", () => {
    if (dropped) loadState().catch(() => {});
    dropped = false;
  });
  source.addEventListener("error", () => { dropped = true; });
  const on = (kind, fn) => source.addEventListener(kind, (e) => fn(JSON.parse(e.data)));
  const withPhone = (fn) => (data) => {
    const phone = state.phones.get(data.phone);
    if (phone) fn(phone, data);
  };
  const onMessage = withPhone((phone, data) => {
    upsert(phone, data.message);
    if (data.commands) {
      phone.commands = data.commands;
      renderMenu(phone);
    }
  });
  on("message", onMessage);
  on("edit", onMessage);
  on("delete", withPhone((phone, data) => remove(phone, data.message_id)));
  on("phone", (data) => { if (!state.phones.has(data.id)) buildPhone(data); });
  on("role", withPhone((phone, data) => {
    phone.data.role = data.role;
    labelPhone(phone);
  }));
  on("stats", showStats);
  on("clock", (data) => showClock(data.clock));
}

function boot() {
  let saved = null;
  try { saved = localStorage.getItem("essaim-sandbox-lang"); } catch (_e) { /* ignore */ }
  state.lang = saved === "en" ? "en" : "fr";
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  for (const button of document.querySelectorAll("[data-step]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const result = await api("/api/clock", { step: button.dataset.step });
        showClock(result.clock);
      } finally {
        button.disabled = false;
      }
    });
  }
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeInvite(); });
  document.getElementById("add-phone").addEventListener("click", async () => {
    const phone = await api("/api/phones", { language: state.lang });
    if (!state.phones.has(phone.id)) buildPhone(phone);
  });
  const bulk = document.getElementById("bulk");
  bulk.addEventListener("click", async () => {
    bulk.disabled = true;
    try {
      await api("/api/members/bulk", {});
      showStats(await api("/api/stats"));
    } finally {
      bulk.disabled = false;
    }
  });
  applyLanguage();
  connect();
  loadState()
    .then(() => {
      document.body.dataset.ready = "1";
    })
    .catch((e) => console.error(e));
}

boot();
