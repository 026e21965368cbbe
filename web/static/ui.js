// Small DOM helpers: build elements without innerHTML (text from documents and answers is
// never parsed as HTML), and announce changes to screen readers.

/** el("a", {href: "#", onclick: fn}, "text", child...) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Say something politely through the page's live region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  // Cleared first, so the same words said twice are announced twice.
  region.textContent = "";
  requestAnimationFrame(() => { region.textContent = text; });
}

export function formatUsd(value) {
  const amount = Number(value || 0);
  return amount < 0.01 && amount > 0 ? `$${amount.toFixed(4)}` : `$${amount.toFixed(2)}`;
}

export function formatWhen(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatDay(iso) {
  return iso ? new Date(iso).toLocaleDateString(undefined, { dateStyle: "long" }) : "the start";
}

export function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
