// pdfchat's web page: sign in, then documents, questions and the side panel.

import { api, claims, getToken, setToken } from "./api.js";
import { Chat } from "./chat.js";
import { Documents } from "./documents.js";
import { explain } from "./messages.js";
import { Panel } from "./panel.js";

const $ = (id) => document.getElementById(id);
const devLogin = document.querySelector('meta[name="pdfchat-dev-login"]')?.content === "true";

let documents = null;
let chat = null;
let panel = null;

/** A 401 anywhere: the token expired or was revoked; back to the sign-in form. */
function signedOut(error) {
  signOut(explain(error));
}

function signOut(message = "") {
  chat?.stop();
  documents?.stop();
  panel?.close();
  setToken(null);
  sessionStorage.removeItem("pdfchat.conversation");
  $("workspace").hidden = true;
  $("whoami").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  (devLogin ? $("dev-tenant") : $("token-input")).focus();
}

function start() {
  const who = claims(getToken()) || {};
  $("identity").textContent = `${who.sub || "?"} @ ${who.tenant || "?"}` +
    (who.roles?.length ? ` (${who.roles.join(", ")})` : "");
  $("signin").hidden = true;
  $("whoami").hidden = false;
  $("workspace").hidden = false;
  documents ??= new Documents({
    onSelection: (ids) => showScope(ids),
    onTopics: (doc) => panel.showTopics(doc, document.activeElement),
    onError: signedOut,
  });
  const names = (id) => documents.name(id);
  panel ??= new Panel({ names, onError: signedOut });
  chat ??= new Chat({
    names,
    selection: () => [...documents.selected],
    onCitation: (item, link) => panel.showPage(item.document_id, item.page, item.quote, link),
    onAnswered: () => panel.refreshUsage(),
    onError: signedOut,
  });
  documents.refresh();
  chat.refreshConversations();
  chat.select(chat.conversationId ?? sessionStorage.getItem("pdfchat.conversation"));
  $("question").focus();
}

function showScope(ids) {
  $("scope").textContent = ids.length === 0 ? "Asking about all your documents."
    : `Asking about ${ids.length} selected document${ids.length > 1 ? "s" : ""}: ` +
      ids.map((id) => documents.name(id)).join(", ") + ".";
}

/** Use ``token`` if the server accepts it. */
async function tryToken(token) {
  setToken(token);
  try {
    await api("/v1/documents?limit=1");
  } catch (error) {
    setToken(null);
    $("signin-error").textContent = error.status === 401
      ? "This token was not accepted: it may have expired, be meant for another server, or " +
        "be incomplete. Please check it, or get a new one."
      : explain(error);
    return;
  }
  start();
}

$("dev-signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("signin-error").textContent = "";
  const form = new FormData(event.target);
  try {
    const body = await api("/v1/dev/token", { method: "POST", body: Object.fromEntries(form) });
    await tryToken(body.access_token);
  } catch (error) {
    $("signin-error").textContent = explain(error);
  }
});

$("token-signin").addEventListener("submit", (event) => {
  event.preventDefault();
  $("signin-error").textContent = "";
  tryToken($("token-input").value.trim().replace(/^Bearer\s+/i, ""));
});

// Following "#question" scrolls to the box; focusing it makes the skip link useful.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  $("question").focus();
});
$("signout-button").addEventListener("click", () => signOut());
$("usage-button").addEventListener("click", (event) => panel.showUsage(event.currentTarget));

$("dev-signin").hidden = !devLogin;
if (getToken()) start();
else signOut();
