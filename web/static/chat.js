// Questions and streamed answers with citations; the conversation list and its history,
// which carries on across reloads (the current conversation's id is kept in sessionStorage).

import { api, getToken } from "./api.js";
import { explain, explainClose } from "./messages.js";
import { AnswerStream } from "./stream.js";
import { announce, el, formatUsd, formatWhen } from "./ui.js";

const CONVERSATION_KEY = "pdfchat.conversation";

export class Chat {
  /** ctx: names (id → document name), selection() → ids, onCitation(item, link),
   * onAnswered(), onError(error) for errors that sign out. */
  constructor(ctx) {
    this.ctx = ctx;
    this.stream = null;
    this.busy = false;
    this.conversationId = sessionStorage.getItem(CONVERSATION_KEY);
    this.messages = document.getElementById("messages");
    this.form = document.getElementById("ask-form");
    this.question = document.getElementById("question");
    this.button = document.getElementById("ask-button");
    this.status = document.getElementById("stream-status");
    this.error = document.getElementById("ask-error");
    this.bind();
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask();
    });
    this.question.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    document.getElementById("new-conversation").addEventListener("click", () => {
      this.select(null);
      this.question.focus();
    });
  }

  stop() {
    this.stream?.cancel();
    this.stream = null;
    this.setBusy(false, "");
  }

  select(conversationId) {
    this.stop();
    this.conversationId = conversationId;
    if (conversationId) sessionStorage.setItem(CONVERSATION_KEY, conversationId);
    else sessionStorage.removeItem(CONVERSATION_KEY);
    this.messages.replaceChildren();
    this.markCurrent();
    if (conversationId) this.loadHistory(conversationId);
  }

  /** The conversation a first question started: its history is what is on screen. */
  adopt(conversationId) {
    this.conversationId = conversationId;
    sessionStorage.setItem(CONVERSATION_KEY, conversationId);
    this.markCurrent();
  }

  async loadHistory(conversationId) {
    try {
      const body = await api(`/v1/conversations/${encodeURIComponent(conversationId)}`);
      if (conversationId !== this.conversationId) return; // another one was chosen meanwhile
      for (const message of body.messages || []) this.renderSaved(message);
    } catch (error) {
      if (error.status === 404) return this.select(null); // deleted, or never saved
      this.error.textContent = explain(error);
      if (error.status === 401) this.ctx.onError(error);
    }
  }

  async refreshConversations() {
    const list = document.getElementById("conversations");
    const problem = document.getElementById("conversations-error");
    try {
      const body = await api("/v1/conversations");
      problem.textContent = "";
      list.replaceChildren(...(body.conversations || []).map((c) => el("li", {},
        el("button", { type: "button", class: "conversation", "data-id": c.conversation_id,
          onclick: () => this.select(c.conversation_id) },
          el("span", { class: "conversation-title" }, c.title || "Untitled conversation"),
          el("span", { class: "hint" }, formatWhen(c.updated_at || c.created_at))))));
      this.markCurrent();
    } catch (error) {
      problem.textContent = error.status === 404 ? "" : explain(error);
      if (error.status === 401) this.ctx.onError(error);
    }
  }

  markCurrent() {
    for (const button of document.querySelectorAll("#conversations .conversation")) {
      if (button.dataset.id === this.conversationId) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  renderSaved(message) {
    if (message.role === "user") return this.renderQuestion(message.content);
    const answer = this.renderAnswer();
    answer.content.textContent = message.content;
    answer.content.setAttribute("aria-busy", "false");
    this.showCitations(answer, message.citations || []);
    if (message.found === false) this.markNotFound(answer);
    this.showUsage(answer, message.usage);
    if (message.stream_session_id) this.offerRating(answer, message.stream_session_id);
  }

  renderQuestion(text) {
    this.messages.append(el("li", { class: "message user" },
      el("p", { class: "who" }, "You"), el("div", { class: "content" }, text)));
  }

  renderAnswer() {
    const content = el("div", { class: "content answer", "aria-live": "polite",
      "aria-busy": "true" });
    const citations = el("div", { class: "citations", hidden: true });
    const usage = el("p", { class: "usage hint" });
    const problem = el("p", { class: "error", role: "alert" });
    const rating = el("div", { class: "rating", role: "group", "aria-label": "Rate this answer",
      hidden: true });
    const item = el("li", { class: "message assistant" },
      el("p", { class: "who" }, "pdfchat"), content, problem, citations, usage, rating);
    this.messages.append(item);
    return { item, content, citations, usage, problem, rating };
  }

  async ask() {
    const question = this.question.value.trim();
    if (!question || this.busy) return;
    this.error.textContent = "";
    const body = { question };
    const selection = this.ctx.selection();
    if (selection.length) body.document_ids = selection;
    if (this.conversationId) body.conversation_id = this.conversationId;
    this.setBusy(true, "Sending your question…");
    let started;
    try {
      started = await api("/v1/chat", { method: "POST", body });
    } catch (error) {
      this.setBusy(false, "");
      this.error.textContent = explain(error);
      if (error.status === 401) this.ctx.onError(error);
      return;
    }
    this.question.value = "";
    if (started.conversation_id !== this.conversationId) this.adopt(started.conversation_id);
    this.renderQuestion(question);
    this.follow(started.stream_session_id, this.renderAnswer());
  }

  follow(sessionId, answer) {
    const words = { connecting: "Connecting…", streaming: "Answering…",
      reconnecting: "Connection lost; reconnecting…", done: "" };
    this.stream = new AnswerStream(sessionId, getToken(), {
      onState: (state) => { this.status.textContent = words[state]; },
      onToken: (text) => { answer.content.append(text); this.scrollToEnd(); },
      onCitations: (items) => this.showCitations(answer, items),
      onEnd: (usage, found) => {
        this.finish(answer);
        if (!found) this.markNotFound(answer);
        this.showUsage(answer, usage);
        this.offerRating(answer, sessionId);
        announce("The answer is complete.");
        this.refreshConversations();
        this.ctx.onAnswered();
      },
      onError: (code, message) => this.failed(answer, explain({ code, message })),
      onClosed: (code, reason) => this.failed(answer, explainClose(code, reason)),
    }).start();
  }

  /** An answer that the documents do not hold what was asked: told apart from an answer, with
   * what to try next (the chosen documents are the usual reason). */
  markNotFound(answer) {
    answer.item.classList.add("not-found");
    const scope = this.ctx.selection().length ? " or ask all your documents" : "";
    answer.content.after(el("p", { class: "not-found-hint hint" },
      `Not in your documents. Try other words${scope}.`));
  }

  failed(answer, text) {
    answer.problem.textContent = text;
    this.finish(answer);
  }

  finish(answer) {
    answer.content.setAttribute("aria-busy", "false");
    answer.content.normalize(); // one text node instead of one per token
    this.stream = null;
    this.setBusy(false, "");
  }

  setBusy(busy, words) {
    this.busy = busy;
    this.button.disabled = busy;
    this.status.textContent = words;
  }

  scrollToEnd() {
    this.messages.lastElementChild?.scrollIntoView({ block: "end" });
  }

  showCitations(answer, items) {
    const seen = new Set();
    const links = [];
    for (const item of items) {
      const key = item.segment_id || `${item.document_id}:${item.page}:${item.quote}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const link = el("a", { class: "citation", href: `#${item.document_id}/page/${item.page}`,
        title: item.quote || "" }, `${this.ctx.names(item.document_id)}, page ${item.page}`);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        this.ctx.onCitation(item, link);
      });
      // Numbered as the answer text numbers them ("[2]"), not by position in this list.
      links.push(el("li", item.marker ? { value: String(item.marker) } : {}, link));
    }
    if (!links.length) return;
    answer.citations.replaceChildren(el("h3", {}, "Sources"), el("ol", {}, ...links));
    answer.citations.hidden = false;
  }

  /** Thumbs up or down, sent as the answer's feedback; a second click replaces the first. */
  offerRating(answer, sessionId) {
    const choices = [["up", "👍", "Good answer"], ["down", "👎", "Poor answer"]];
    const buttons = choices.map(([rating, face, label]) => el("button", {
      type: "button", class: "rate", "aria-pressed": "false", "aria-label": label, title: label,
      onclick: () => this.rate(answer, sessionId, rating, buttons),
    }, face));
    answer.rating.replaceChildren(...buttons);
    answer.rating.hidden = false;
  }

  async rate(answer, sessionId, rating, buttons) {
    try {
      await api(`/v1/chat/sessions/${sessionId}/feedback`, { method: "POST", body: { rating } });
    } catch (error) {
      answer.problem.textContent = explain(error);
      return;
    }
    const chosen = rating === "up" ? 0 : 1;
    buttons.forEach((button, i) => button.setAttribute("aria-pressed", String(i === chosen)));
    announce("Thank you: your rating is saved.");
  }

  showUsage(answer, usage) {
    if (!usage) return;
    const tokens = `${usage.tokens_in ?? 0} tokens in, ${usage.tokens_out ?? 0} out`;
    answer.usage.textContent = `${usage.model || "model"} · ${tokens} · ` +
      formatUsd(usage.cost_usd);
  }
}
