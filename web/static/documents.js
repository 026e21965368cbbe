// The document list: uploads with progress, live status, failure reasons, delete, and the
// selection of documents a question is about.

import { api, upload } from "./api.js";
import { explain } from "./messages.js";
import { announce, el } from "./ui.js";

const UNFINISHED = new Set(["queued", "parsing", "parsed", "embedding"]);
const STATUS_WORDS = {
  queued: "Queued",
  parsing: "Reading",
  parsed: "Read, indexing next",
  embedding: "Indexing",
  ready: "Ready",
  failed: "Failed",
};
// While something is unfinished the list is refreshed this often.
const POLL_MS = 1200;

export class Documents {
  /** actions: onSelection(ids), onTopics(doc), onError(error) for errors that sign out. */
  constructor(actions) {
    this.actions = actions;
    this.docs = new Map();
    this.selected = new Set();
    this.timer = null;
    this.list = document.getElementById("documents");
    this.error = document.getElementById("documents-error");
    this.bindUploads();
  }

  name(id) {
    const doc = this.docs.get(id);
    return doc ? doc.title || doc.filename : "a deleted document";
  }

  bindUploads() {
    const zone = document.getElementById("dropzone");
    const input = document.getElementById("file-input");
    input.addEventListener("change", () => {
      this.uploadAll([...input.files]);
      input.value = "";
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      this.uploadAll([...event.dataTransfer.files]);
    });
  }

  uploadAll(files) {
    for (const file of files) this.uploadOne(file);
  }

  async uploadOne(file) {
    const bar = el("progress", { max: "1", value: "0", "aria-label": `Uploading ${file.name}` });
    const note = el("span", { class: "upload-note" }, "Uploading…");
    const item = el("li", { class: "upload" }, el("span", { class: "name" }, file.name), bar, note);
    document.getElementById("uploads").append(item);
    try {
      await upload(file, (share) => {
        bar.value = share;
        note.textContent = `Uploading… ${Math.round(share * 100)}%`;
      });
      bar.value = 1;
      note.textContent = "Uploaded";
      announce(`${file.name} uploaded; it is being read.`);
      setTimeout(() => item.remove(), 3000);
      this.refresh();
    } catch (error) {
      item.classList.add("failed");
      note.textContent = explain(error);
      note.setAttribute("role", "alert");
      item.append(el("button", { type: "button", onclick: () => item.remove() }, "Dismiss"));
      if (error.status === 401) this.actions.onError(error);
    }
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      const body = await api("/v1/documents?limit=200");
      this.error.textContent = "";
      this.render(body.documents);
    } catch (error) {
      this.error.textContent = explain(error);
      if (error.status === 401) return this.actions.onError(error);
    }
    const busy = [...this.docs.values()].some((doc) => UNFINISHED.has(doc.status));
    if (busy) this.timer = setTimeout(() => this.refresh(), POLL_MS);
  }

  stop() {
    clearTimeout(this.timer);
  }

  render(docs) {
    const before = this.docs;
    this.docs = new Map(docs.map((doc) => [doc.id, doc]));
    for (const doc of docs) {
      const old = before.get(doc.id);
      if (old && old.status !== doc.status) {
        announce(`${doc.title || doc.filename}: ${STATUS_WORDS[doc.status] || doc.status}.`);
      }
    }
    for (const id of [...this.selected]) if (!this.docs.has(id)) this.selected.delete(id);
    // The list is redrawn while documents change; keep keyboard focus where it was.
    const focused = this.list.contains(document.activeElement) ? document.activeElement.id : "";
    this.list.replaceChildren(...docs.map((doc) => this.item(doc)));
    if (focused) document.getElementById(focused)?.focus();
    document.getElementById("documents-empty").hidden = docs.length > 0;
    this.actions.onSelection([...this.selected]);
  }

  item(doc) {
    const name = doc.title || doc.filename;
    const box = el("input", { type: "checkbox", id: `pick-${doc.id}`, value: doc.id });
    box.checked = this.selected.has(doc.id);
    box.disabled = doc.status !== "ready";
    box.addEventListener("change", () => {
      if (box.checked) this.selected.add(doc.id);
      else this.selected.delete(doc.id);
      this.actions.onSelection([...this.selected]);
    });
    const label = el("label", { for: `pick-${doc.id}`, class: "doc-name" }, name);
    const status = el("span", { class: `status status-${doc.status}` },
      STATUS_WORDS[doc.status] || doc.status);
    const meta = el("span", { class: "hint" }, doc.pages ? `${doc.pages} pages` : doc.filename);
    const item = el("li", { class: "document", "data-id": doc.id, "data-status": doc.status },
      el("div", { class: "doc-row" }, box, label, status), meta);
    if (doc.status === "failed") {
      item.append(el("p", { class: "error doc-error" }, doc.error || "It could not be read."));
    }
    const buttons = el("div", { class: "doc-actions" });
    if (doc.status === "ready") {
      buttons.append(el("button", { type: "button", id: `topics-${doc.id}`,
        onclick: () => this.actions.onTopics(doc), "aria-label": `Topics of ${name}` }, "Topics"));
    }
    buttons.append(el("button", { type: "button", class: "danger", id: `delete-${doc.id}`,
      onclick: () => this.remove(doc), "aria-label": `Delete ${name}` }, "Delete"));
    item.append(buttons);
    return item;
  }

  async remove(doc) {
    const name = doc.title || doc.filename;
    if (!confirm(`Delete "${name}"? Its pages and answers built on it will be gone.`)) return;
    try {
      await api(`/v1/documents/${doc.id}`, { method: "DELETE" });
      announce(`${name} deleted.`);
      this.selected.delete(doc.id);
      await this.refresh();
      document.getElementById("file-input").focus();
    } catch (error) {
      this.error.textContent = explain(error);
      if (error.status === 401) this.actions.onError(error);
    }
  }
}
