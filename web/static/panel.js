// The side panel: a cited page (image and text, the quote marked), a document's topic map
// and reading guide, and the tenant's usage and cost. On a phone it covers the screen.

import { api, blobUrl } from "./api.js";
import { findQuote, markedParagraphs } from "./highlight.js";
import { explain } from "./messages.js";
import { el, formatDay, formatUsd, plural } from "./ui.js";

const TOPICS_RETRY_MS = 3000;

export class Panel {
  /** ctx: names(id) → document name, onError(error) for errors that sign out. */
  constructor(ctx) {
    this.ctx = ctx;
    this.node = document.getElementById("panel");
    this.heading = document.getElementById("panel-heading");
    this.body = document.getElementById("panel-body");
    this.returnFocus = null;
    this.imageUrl = null;
    this.view = 0; // bumped per view, so a late answer for an old view is dropped
    document.getElementById("panel-close").addEventListener("click", () => this.close());
    this.node.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  open(title, returnFocus, mode = "page") {
    this.view += 1;
    this.mode = mode;
    if (returnFocus) this.returnFocus = returnFocus;
    this.heading.textContent = title;
    this.body.replaceChildren();
    this.node.hidden = false;
    document.body.classList.add("panel-open");
    this.heading.focus();
    return this.view;
  }

  close() {
    this.view += 1;
    this.node.hidden = true;
    document.body.classList.remove("panel-open");
    this.releaseImage();
    this.returnFocus?.focus();
    this.returnFocus = null;
  }

  releaseImage() {
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = null;
  }

  problem(view, error) {
    if (view !== this.view) return;
    this.body.append(el("p", { class: "error", role: "alert" }, explain(error)));
    if (error.status === 401) this.ctx.onError(error);
  }

  async showPage(documentId, page, quote, returnFocus) {
    const name = this.ctx.names(documentId);
    const view = this.open(`${name}, page ${page}`, returnFocus);
    const base = `/v1/documents/${documentId}/pages/${page}`;
    const width = Math.min(2000, Math.max(100,
      Math.round((this.body.clientWidth || 600) * (window.devicePixelRatio || 1))));
    const image = el("img", { class: "page-image", alt: `Page ${page} of ${name}` });
    const text = el("div", { class: "page-text" }, el("p", { class: "hint" }, "Loading…"));
    // The text first: the quoted passage is what the reader came for; the image shows it
    // in its place on the page.
    this.body.append(el("h3", {}, "Text of this page"), text,
      el("figure", { class: "page" }, image));
    const [textResult, imageResult] = await Promise.allSettled([api(base),
      blobUrl(`${base}/image?width=${width}`)]);
    if (view !== this.view) {
      if (imageResult.status === "fulfilled") URL.revokeObjectURL(imageResult.value);
      return;
    }
    if (imageResult.status === "fulfilled") {
      this.releaseImage();
      this.imageUrl = imageResult.value;
      image.src = this.imageUrl;
    } else {
      image.remove();
    }
    if (textResult.status === "rejected") {
      text.replaceChildren();
      return this.problem(view, textResult.reason);
    }
    this.showText(text, textResult.value, quote, documentId, returnFocus);
  }

  showText(container, body, quote, documentId, returnFocus) {
    const paragraphs = body.paragraphs?.length ? body.paragraphs : [body.text];
    const range = quote ? findQuote(paragraphs.join("\n\n"), quote) : null;
    container.replaceChildren(...markedParagraphs(paragraphs, range));
    if (quote && !range) {
      container.prepend(el("p", { class: "hint" }, "The quoted passage could not be found " +
        "word for word on this page; it may run over to the next page."));
    }
    container.querySelector("mark")?.scrollIntoView({ block: "nearest" });
    this.body.prepend(this.pageNav(documentId, body.page, body.pages, returnFocus));
  }

  pageNav(documentId, page, pages, returnFocus) {
    const go = (n) => () => this.showPage(documentId, n, null, returnFocus);
    return el("nav", { class: "page-nav", "aria-label": "Pages" },
      el("button", { type: "button", disabled: page <= 1, onclick: go(page - 1) }, "‹ Previous"),
      el("span", {}, `Page ${page} of ${pages ?? "?"}`),
      el("button", { type: "button", disabled: pages !== null && page >= pages,
        onclick: go(page + 1) }, "Next ›"));
  }

  async showTopics(doc, returnFocus) {
    const view = this.open(`Topics of ${doc.title || doc.filename}`, returnFocus, "topics");
    try {
      const map = await api(`/v1/documents/${doc.id}/topics`);
      if (view === this.view) this.renderTopics(doc, map, returnFocus);
    } catch (error) {
      if (view !== this.view) return;
      if (error.code !== "topics_not_ready") return this.problem(view, error);
      this.body.replaceChildren(el("p", { class: "hint", role: "status" }, explain(error)));
      setTimeout(() => { if (view === this.view) this.showTopics(doc, returnFocus); },
        TOPICS_RETRY_MS);
    }
  }

  renderTopics(doc, map, returnFocus) {
    const topics = (map.topics || []).map((topic) => el("li", { class: "topic" },
      el("h3", {}, topic.label),
      el("p", { class: "hint" }, `Key terms: ${(topic.terms || []).join(", ")}`),
      el("p", {}, topic.summary || ""),
      el("p", { class: "topic-pages" }, "Pages: ", ...(topic.pages || []).flatMap((n, i) => [
        i ? ", " : "",
        el("a", { href: `#${doc.id}/page/${n}`, onclick: (event) => {
          event.preventDefault();
          this.showPage(doc.id, n, null, returnFocus);
        } }, String(n))]))));
    this.body.replaceChildren(el("h3", {}, "Reading guide"), el("p", { class: "overview" },
      map.overview || ""), el("ol", { class: "topics" }, ...topics));
  }

  async showUsage(returnFocus) {
    const view = this.open("Usage and cost", returnFocus, "usage");
    try {
      const usage = await api("/v1/usage");
      if (view === this.view) this.renderUsage(usage);
    } catch (error) {
      if (error.status === 404 && error.code !== "unauthenticated") {
        if (view === this.view) this.body.append(el("p", {}, "This server reports no usage."));
        return;
      }
      if (error.status === 403) {  // docs/api.md#roles: usage is for admins and analysts
        if (view === this.view) this.body.append(el("p", {}, "Usage and cost are shown to admins and analysts."));
        return;
      }
      this.problem(view, error);
    }
  }

  /** After an answer, the usage on show is out of date. */
  refreshUsage() {
    if (!this.node.hidden && this.mode === "usage") this.showUsage();
  }

  renderUsage(usage) {
    const totals = usage.totals || {};
    const budget = Number(usage.budget_usd || 0);
    const spent = Number(usage.spent_usd || 0);
    const meter = budget > 0 ? el("progress", { max: String(budget), value: String(spent),
      "aria-label": "Share of the budget spent" }) : null;
    const rows = (usage.by_model || []).map((m) => el("tr", {}, el("th", { scope: "row" },
      m.model), el("td", {}, String(m.requests)), el("td", {}, String(m.tokens_in)),
      el("td", {}, String(m.tokens_out)), el("td", {}, formatUsd(m.cost_usd))));
    this.body.replaceChildren(
      el("p", {}, `Tenant ${usage.tenant_id}, since ${formatDay(usage.period_start)}.`),
      el("p", { class: "spent" }, `Spent ${formatUsd(spent)}` +
        (budget > 0 ? ` of ${formatUsd(budget)}; ${formatUsd(usage.remaining_usd)} left.` : ".")),
      meter,
      el("p", {}, `${plural(totals.requests ?? 0, "answer")}, ${totals.tokens_in ?? 0} tokens in, ` +
        `${totals.tokens_out ?? 0} tokens out.`),
      el("table", { class: "usage-table" }, el("caption", {}, "By model"),
        el("thead", {}, el("tr", {}, ...["Model", "Answers", "Tokens in", "Tokens out", "Cost"]
          .map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, ...rows)));
  }
}
