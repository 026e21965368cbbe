// Finding a citation's quote in a page's text and marking it.
//
// Quotes come from segments, whose text may differ from the page's in spacing, case or a cut
// at either end ("…"), so the search ignores those; when the whole quote is not found, the
// longest run of its leading words that is found gets the mark.

const MIN_WORDS = 4;

/** text with runs of white space made one space and letters lower-cased, plus, for each
 * character of the result, its index in ``text``. */
function normalise(text) {
  let out = "";
  const map = [];
  let space = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      if (!space) { out += " "; map.push(i); space = true; }
      continue;
    }
    const lower = ch.toLowerCase();
    out += lower.length === 1 ? lower : ch;
    map.push(i);
    space = false;
  }
  return { out, map };
}

function cleanQuote(quote) {
  return String(quote || "").replace(/^[\s"“'‘…]+|[\s"”'’…]+$/g, "").replace(/\.\.\.$/, "");
}

/** [start, end) of the quote in ``text``, or null. */
export function findQuote(text, quote) {
  const hay = normalise(text);
  const words = normalise(cleanQuote(quote)).out.split(" ").filter(Boolean);
  for (let n = words.length; n >= Math.min(MIN_WORDS, words.length) && n > 0; n--) {
    const at = hay.out.indexOf(words.slice(0, n).join(" "));
    if (at >= 0) {
      const needle = words.slice(0, n).join(" ");
      return [hay.map[at], hay.map[at + needle.length - 1] + 1];
    }
  }
  return null;
}

/** Paragraph elements for ``paragraphs``, with the range [start, end) of their text joined
 * by "\n\n" wrapped in <mark>. */
export function markedParagraphs(paragraphs, range) {
  const nodes = [];
  let offset = 0;
  for (const text of paragraphs) {
    const p = document.createElement("p");
    const from = range ? Math.max(range[0] - offset, 0) : 0;
    const to = range ? Math.min(range[1] - offset, text.length) : 0;
    if (range && from < to) {
      const mark = document.createElement("mark");
      mark.textContent = text.slice(from, to);
      p.append(text.slice(0, from), mark, text.slice(to));
    } else {
      p.textContent = text;
    }
    nodes.push(p);
    offset += text.length + 2;
  }
  return nodes;
}
