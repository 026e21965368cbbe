// API errors in words a person understands. Codes come from the API (docs/api.md); the
// server's own message is used when we have nothing better to say.

const SENTENCES = {
  network: "The pdfchat server cannot be reached. Check that it is running and try again.",
  unauthenticated: "You are not signed in, or your sign-in has expired. Please sign in again.",
  forbidden: "Your role does not allow this. Uploading and deleting need the editor or " +
    "admin role.",
  not_found: "That item no longer exists; it may have been deleted.",
  too_large: "This file is larger than the server accepts. Split it into smaller PDFs.",
  request_entity_too_large: "This file is larger than the server accepts. Split it into " +
    "smaller PDFs.",
  not_pdf: "This file is not a PDF document.",
  unsupported_media_type: "This file is not a PDF document.",
  empty_file: "This file is empty.",
  topics_not_ready: "The topic map is still being worked out; it appears shortly after the " +
    "document is ready.",
  page_not_ready: "This document is still being read; its pages can be shown once it has " +
    "been read.",
  rate_limited: "Too many requests at once. Please wait a moment and try again.",
  too_many_requests: "Too many requests at once. Please wait a moment and try again.",
  budget_exceeded: "Your organisation has used up its budget for this period. An " +
    "administrator can raise it.",
  unknown_session: "This answer could not be found. Please ask again.",
  stream_expired: "This answer is no longer available to resume. Please ask again.",
  internal: "Something went wrong on the server. Please try again; if it keeps happening, " +
    "tell your administrator.",
};

// WebSocket close codes of WS /v1/chat/stream (see docs/api.md).
const CLOSE_SENTENCES = {
  1006: "The connection to the server was lost and could not be restored. Please ask again.",
  4400: "The question could not be sent as it was. Please rephrase it and try again.",
  4401: "Your sign-in has expired. Please sign in again and ask once more.",
  4403: "Your role does not allow asking questions. Ask an administrator for access.",
  4404: "This answer could not be found. Please ask again.",
  4410: "This answer is no longer available to resume. Please ask again.",
};

function sentence(text) {
  const clean = String(text || "").trim();
  if (!clean) return "";
  const capital = clean[0].toUpperCase() + clean.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** A readable sentence for an ApiError, a stream error message or anything thrown. */
export function explain(error) {
  if (!error) return "";
  if (error.code && SENTENCES[error.code]) return SENTENCES[error.code];
  if (error.message && error.status !== 500) return sentence(error.message);
  return SENTENCES.internal;
}

export function explainClose(code, reason) {
  return CLOSE_SENTENCES[code] || sentence(reason) || "The answer stopped unexpectedly.";
}
