"""``local:extractive``: answers offline by quoting the retrieved passages.

Method, per question (pure Python, well under a millisecond for top-10 evidence):

1. Query terms: the question's content words (no stopwords, no question words such as "how
   much", light stemming). A follow-up — a question of at most two terms, or one that leans
   on a pronoun ("what does it cost?") — also gets the terms of the previous user turn, at
   half weight, so "it" finds what the user was talking about.
2. Term weights: IDF over the candidate sentences, smoothed so that no term weighs zero:
   w(t) = ln(1 + (N + 1) / (df(t) + 0.5)). A term every sentence shares (the document's own
   topic) weighs least; a term no sentence has weighs most, so a question about something the
   evidence never mentions scores low.
3. Sentence score: the weighted share of query terms the sentence contains (same stem, or a
   shared 6-letter start), in [0, 1], plus a small bonus for the passage's retrieval rank
   (retrieval already judged meaning; lexical coverage judges the sentence). When the
   question has terms of its own, a sentence must share one of them: history says what "it"
   is, the question what is asked about it.
   Only the passages the re-ranker scores within ``LEADING_MARGIN`` of its best are read
   this way: the re-ranker judged the passages, coverage judges their sentences. When none
   of their sentences has every query term, a sentence of the next passages (of the first
   ``MEANING_PASSAGES``) that has them all is read too.
4. Not good enough — best coverage below ``MIN_COVERAGE`` — and the answer is
   ``NOT_FOUND``, with no citations. Otherwise a greedy cover: the best sentence, then each
   next-best one that adds query terms not yet covered (at least ``MIN_GAIN``), at most
   ``MAX_SENTENCES``, near-duplicates dropped; in reading order (passages by their best
   sentence, sentences of one passage in document order), each run closed with its [n]; the
   passages are numbered 1, 2, ... in the order the answer quotes them.
5. Grounding (``select``, ``llm.grounding``): a sentence qualifies only when it carries what
   was asked — the codes the question names ("arm64", "TreeEditor", "--quiet") in its
   passage, a number (of the counted thing: "how many members" is not answered by "four
   decisions"; money for a price, a ratio for "how much faster") when the question asks for
   a quantity, the word "default" (or "initially") when it asks for a default, a limit
   ("up to", "at most", "must not exceed") when it asks for a maximum or a minimum. A
   capitalised name that no passage has ("Excel", "Qt") stops an answer from meaning alone.
   Measured in docs/evaluation.md.
6. The answer streams word by word (each delta a word and the whitespace after it).

A question about whole documents (``Prompt.overview``: "What is this paper about?") is no
search for sentences: its evidence is each document's opening and a passage per main topic
(workflows.overview), and ``overview`` quotes their first sentences in that order, each
document led by its name when there are several.

Limits: it quotes, it does not reason or paraphrase; a question worded with none of the
passage's words (synonyms only) gets NOT_FOUND even when retrieval found the right passage.
``MIN_COVERAGE`` is where quoting by shared words gives way to quoting by meaning from the
re-ranker's best passages. Unanswerable questions on the same topics score 0-0.36 in
tests/llm/test_local.py, answerable ones 0.57-1.0; over ops/eval's 276 answerable questions,
0.55 (rather than 0.45) and three sentences from meaning (rather than two) cite an answer
page for 0.70 instead of 0.63 of the debian set and 0.66 instead of 0.61 of the legal one,
with the same refusals (docs/evaluation.md).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise

import numpy as np

from core import cjk, languages
from llm import grounding
from llm._text import (
    LEADERS,
    SENTENCE_ENDS,
    Span,
    estimate_tokens,
    has_term,
    pair_runs,
    question_terms,
    question_words,
    sentences,
    term_of,
    term_set,
    terms,
    word_count,
    words,
)
from llm.catalog import LOCAL_MODEL
from llm.citations import shorten
from llm.events import Citation, Delta, Finished, Usage
from llm.prompt import (
    REFUSAL,
    Evidence,
    Prompt,
    Turn,
    action_subject,
    byline_subject,
    dated_subject,
    defines,
    definition_subject,
    difference_subjects,
    is_contents,
    is_follow_up,
    new_topic,
    overview_names,
    passage_tokens,
    previous_question,
    ranked,
    says_what_it_does,
)
from retrieval import text_vectors

NOT_FOUND = (
    f"{REFUSAL} Try rephrasing the question, or check that the documents that cover it are "
    "selected and finished processing."
)
# The same in the question's language: refused in English, a question in French or Chinese
# reads the refusal as a failure of the system rather than as an answer.
NOT_FOUND_IN = {
    "fr": "Je n'ai pas trouvé la réponse dans vos documents. Reformulez la question, ou vérifiez"
    " que les documents qui en traitent sont sélectionnés et que leur traitement est terminé.",
    "de": "Ich konnte die Antwort in Ihren Dokumenten nicht finden. Formulieren Sie die Frage"
    " um, oder prüfen Sie, ob die Dokumente, die sie behandeln, ausgewählt und fertig"
    " verarbeitet sind.",
    "es": "No encontré la respuesta en sus documentos. Reformule la pregunta, o compruebe que"
    " los documentos que la tratan están seleccionados y terminaron de procesarse.",
    "it": "Non ho trovato la risposta nei tuoi documenti. Riformula la domanda, oppure verifica"
    " che i documenti che ne parlano siano selezionati e che la loro elaborazione sia finita.",
    "pt": "Não encontrei a resposta nos seus documentos. Reformule a pergunta, ou verifique se"
    " os documentos que tratam dela estão selecionados e terminaram de ser processados.",
    "nl": "Ik kon het antwoord niet vinden in uw documenten. Formuleer de vraag anders, of"
    " controleer of de documenten die erover gaan geselecteerd zijn en klaar met verwerken.",
    "ru": "Я не нашёл ответа в ваших документах. Переформулируйте вопрос или проверьте, что"
    " документы, в которых он рассматривается, выбраны и их обработка завершена.",
    "uk": "Я не знайшов відповіді у ваших документах. Переформулюйте запитання або перевірте,"
    " що документи, які його стосуються, вибрані й їх обробку завершено.",
    "zh": "在您的文档中找不到这个问题的答案。"
    "请换一种问法，或确认涵盖该内容的文档已选中并已处理完成。",
    "ja": "ドキュメントの中にこの質問の答えが見つかりませんでした。"
    "質問を言い換えるか、該当するドキュメントが選択され、処理が完了していることを確認してください。",
    "ko": "문서에서 이 질문의 답을 찾을 수 없습니다. "
    "질문을 바꾸어 보시거나, 해당 내용을 다루는 문서가 선택되어 처리가 끝났는지 확인해 주세요.",
}


def not_found(question: str) -> str:
    """The refusal, in the question's language (``core.languages``)."""
    return NOT_FOUND_IN.get(languages.language(question) or "", NOT_FOUND)


MIN_COVERAGE = 0.55
# Answer from meaning when the re-ranker's score of the best passage reaches this: over the
# 100 paraphrased questions of ops/eval, 91 % of those whose answer page was retrieved scored
# at least 0.30, and 22 of 30 questions the corpus cannot answer scored less (the other 8 are
# near its topics: they get the closest passages, cited). Calibrated for the local
# re-ranker; set PDFCHAT_CHAT_MIN_EVIDENCE_SCORE for another. 0.26 since the re-ranker reads
# its encoder (retrieval/encoder.py), whose cosine also keeps stray questions out
# (MIN_MEANING): 3 false refusals on the legal set instead of 7 at 0.28, and 0 and 3 stray
# questions answered (docs/evaluation.md). Without the encoder, 0.28 was the calibrated bar.
MIN_EVIDENCE_SCORE = 0.26
MEANING_PASSAGES = 3
# The least encoder cosine (Evidence.meaning) one of the MEANING_PASSAGES best passages must
# have to answer from meaning. Over ops/eval's sets, every answerable question's best three
# had at least 0.30 (legal 0.30, debian 0.36), and 67 of 70 stray questions
# (ops/eval/offtopic.py) less (docs/evaluation.md, "A transformer in the re-ranker").
MIN_MEANING = 0.30
# Passages whose re-ranker score is within this of the best one may answer by shared words:
# debian's answers cite an answer page for 0.74 of its questions instead of 0.70, legal's for
# 0.65 instead of 0.64 (docs/evaluation.md). Falling back to every passage when these cannot
# answer gave the 0.70 back.
LEADING_MARGIN = 0.03
# Answering from meaning, at most this many sentences, and at most MEANING_PER_PASSAGE of one
# passage, each passage's best first: when no sentence says the question in its words, the
# best sentence of another passage is worth more than a third of the first. Over the debian
# set, an answer page is cited for 0.79 of the questions (three sentences, any passage: 0.74)
# and the evidence quoted for 0.49 (0.44); legal's figures stay (docs/evaluation.md).
MEANING_SENTENCES = 4
MEANING_PER_PASSAGE = 2
MEANING_MIN_WORDS = 3  # fewer, and a line is a fragment (``_fragment``)
# A paragraph's opening that says what it is about (``_with_subject``) is a sentence: not a
# list's number ("6.") or a section's ("Section 2.").
SUBJECT_MIN_WORDS = 4
_ASKS_WHEN = re.compile(r"^\W*when\b", re.IGNORECASE)
MIN_GAIN = 0.15
# The sentence right after a picked one, scored almost as well, is quoted even when it adds no
# word of the question: "Maxima is aware of the Half Angle relations, but by default will not
# use them." goes on with how to ("There is a variable … called halfangles").
NEXT_SENTENCE_RATIO = 0.9
TIE_MARGIN = 0.01  # of the score: sentences this close are ordered by meaning
MAX_SENTENCES = 3
MAX_ANSWER_WORDS = 120
# What a sentence ending in ":" introduces is quoted with it up to this length (``_continued``).
CONTINUATION_MAX_WORDS = 40
# How a sentence opens when it goes on from the one before: what to do about what that one said.
_GOES_ON = re.compile(
    r"(in (that|this|such a|either) case|if so\b|otherwise\b|instead\b|to do (so|this|that)\b"
    r"|to (fix|avoid|solve|prevent|correct|work around) (this|that|it)\b)",
    re.IGNORECASE,
)
# Sentences that promise what follows them: a lead-in ("use the left division operator:"), and
# a question, which in a FAQ is answered by the next sentence ("What is the difference between
# fastx3 and fasty3?" quoted alone answers nothing).
_ASKS = ("?", "？")
_LEADS_IN = (":", "：", *_ASKS)
# A Chinese or Japanese sentence that points at what follows ends in "。": "…可以使用dd(1) 通过
# 下列方式建立。", "…次のようにして書込みます。" over the command that does it.
_POINTS_AHEAD_CJK = re.compile("下列|如下|下面|次の|次に|以下の|以下に|下記")
# And a sentence cut off on a word no English sentence ends on: "To quit the R program the
# command is" is followed by "> q()", in a paragraph of its own.
_UNFINISHED_WORDS = """a an the is are was were be been being am of to into onto for with by from
    as at and or but than because if whose via"""
_UNFINISHED = frozenset(_UNFINISHED_WORDS.split())
HISTORY_WEIGHT = 0.5
# A query term found only elsewhere in the sentence's passage counts this much: "who keeps
# the light at Gull Point?" is answered by "... the keeper, Martha Quayle, ... the light" in a
# passage headed "The Lighthouse at Gull Point".
CONTEXT_WEIGHT = 0.5
# A query word whose wordllama vector is this close to one of the sentence's words counts at
# NEAR_WEIGHT: measured pairs — temperature/degrees 0.61, tall/height 0.68, cost/price 0.67,
# built/constructed 0.72 — against unrelated ones at 0.1 or less.
NEAR_MIN_COSINE = 0.55
NEAR_WEIGHT = 0.7
# A table row's word found only in its table's header row or caption: said of the row, less
# plainly than by the row itself (every row of the table has it).
HEADER_WEIGHT = 0.75
HEADING_MAX_WORDS = 12
TABLE_MIN_ROWS = 3  # one-line paragraphs in a run, none a sentence: a table's rows
_PARAGRAPH = re.compile(r"(?:[^\n]|\n(?!\s*\n))+")
_CAPTION = re.compile(r"(table|figure|fig\.|listing)\s*[\d.]+\s*[:.]", re.IGNORECASE)
TERM_MAX_WORDS = 8  # a definition list's term line ("double tol_bnd (default: 1e-7)")
# What a term reads like, unlike a heading: it starts in lower case or with a mark ("double
# tol_bnd", "-f", "$HOME"), or holds "_", "(" or "=", or a word in capitals ("HISTIGNORE").
_TERM_LIKE = re.compile(r"^[a-z$%.\-]|[_(=]|\b[A-Z][A-Z0-9_]+\b")
# A term that is a name: one word, a name in capitals or an option, with its short forms or
# argument ("REPORTTIME", "AUTO_CD (-J)", "-I figure_path, --fig-path=figure_path", "xetex").
# What its description says is said of it, so the answer names it.
_OPTION_TERM = r"--?[A-Za-z][\w-]*(?:[ =][a-z_]+)?"  # an option with its argument
_NAME_TERM = re.compile(
    rf"(?:[A-Z][A-Z0-9_]+|[a-z][\w.-]*|{_OPTION_TERM})(?: \([^)]{{1,40}}\))?"
    rf"(?:, ?{_OPTION_TERM})*"
)
_BULLETS = "•◦▪‣–—-*·"
# "In which release did dblatex get CJK support?" asks for the part of a document the answer
# sits in: release notes say it in the heading ("Release 0.2.5") over the sentence that
# answers ("• Basic support for Chinese, Japanese, and Korean"), which the answer then quotes.
_ASKS_PART = re.compile(
    r"\b(?:which|what)\s+(release|version|chapter|section|part|step|stage|phase|edition)\b",
    re.IGNORECASE,
)
# Answering what whole documents are about (``overview``).
OVERVIEW_OPENING = 2
OVERVIEW_MAX_WORDS = 160
_NUMBERING = re.compile(r"[\d.]+")
# A sentence that only sends the reader elsewhere ("See [Advanced command line options],
# page 6.", "For more information about …, see Section 4.", "If you are not familiar with
# it, please refer to Chapter 3."): it shares the question's words with the place it names
# and says nothing of its own.
_POINTER = re.compile(
    r"\(?(?:(?:if|for|to) [^.;:]{0,120}?, )?(?:please )?(?:see|refer to|consult)\b",
    re.IGNORECASE,
)
RANK_BONUS = 0.05  # at most; decays with the passage's rank
# What streams as one delta: a word and the white space after it; CJK text, which has no
# spaces, two characters at a time.
_PIECE = re.compile(rf"(?:[{cjk.CJK_CLASS}]{{1,2}}|[^\s{cjk.CJK_CLASS}]+)\s*")
_FULL_WIDTH_ENDS = "。！？"
MAX_EVIDENCE = 12  # the top passages are where answers are; bounds the work per call
# Passages read, remembered: the same passages come back question after question (a tenant's
# pages for its common questions), and one answer reads its evidence several times. Reading
# them took about half of the local model's time (docs/benchmarks.md, "The local model's
# passages read once"). Candidates are frozen, so they are shared.
PASSAGES_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class Candidate:
    block: int  # 1-based evidence number, as cited
    order: int  # position in the passage
    span: Span
    terms: frozenset[str]
    words: tuple[str, ...] = ()  # its content words as written, for meaning-level matching
    matched: frozenset[str] = frozenset()  # the query terms this sentence has
    near: frozenset[str] = frozenset()  # those of them it says in other words (``_Meaning``)
    share: Mapping[str, float] = field(default_factory=dict)  # each query term's weight, Σ = 1
    coverage: float = 0.0  # Σ share of the matched terms, [0, 1]
    score: float = 0.0  # coverage plus the rank bonus: orders the sentences
    # The end of a sentence that began in the segment before (segments overlap mid-sentence).
    tail: bool = False
    # The line of a definition list this sentence describes ("double tol_bnd (default:
    # 1e-7)" above "Tolerance used to check if the basic solution is primal feasible."): the
    # checks read the two together, and the line is quoted when the sentence needs it.
    term: Span | None = None
    term_order: int = -1  # the term line's position in the passage
    # A table's row: the words of its header row and caption, which say what its cells are
    # ("automatic variable value" over "$< first prerequisite"); they count for the row
    # (``HEADER_WEIGHT``) when the row has a word of the question itself.
    table: frozenset[str] = frozenset()
    row: bool = False  # a row of a table

    @property
    def says(self) -> str:
        """The sentence with the term it describes."""
        return f"{self.term.text} {self.span.text}" if self.term else self.span.text


class LocalExtractive:
    model = LOCAL_MODEL

    def __init__(self, *, min_evidence_score: float = MIN_EVIDENCE_SCORE) -> None:
        self.min_evidence_score = min_evidence_score

    async def aclose(self) -> None:
        """Nothing to release."""

    async def stream(
        self, prompt: Prompt, *, max_tokens: int
    ) -> AsyncGenerator[Delta | Finished, None]:
        evidence = ranked(prompt.evidence)[:MAX_EVIDENCE]
        if prompt.overview:
            chosen = overview(evidence)
        else:
            chosen = select(
                prompt.question,
                prompt.history,
                evidence,
                min_evidence_score=self.min_evidence_score,
            )
        if not chosen:
            text = not_found(prompt.question)
        elif prompt.overview:
            text = compose_overview(chosen, evidence)
        else:
            text = compose(chosen)
        pieces = _word_pieces(text, max_tokens)
        for piece in pieces:
            yield Delta(piece)
            await asyncio.sleep(0)  # let other chats on this loop stream too
        streamed = "".join(pieces)
        read = estimate_tokens(prompt.question) + sum(passage_tokens(e.text) for e in evidence)
        usage = Usage(self.model, read, estimate_tokens(streamed), estimated=True)
        yield Finished(streamed, usage, _citations(chosen, evidence), found=bool(chosen))


# ---------------------------------------------------------------------------------------------


def query_weights(question: str, history: list[Turn]) -> dict[str, float]:
    """Query terms with their weight multipliers: 1 for the question, HISTORY_WEIGHT for the
    previous user turn's when the question is a follow-up."""
    own = question_terms(question)
    weights = dict.fromkeys(own, 1.0)
    if is_follow_up(question):
        previous = previous_question(history)
        for term in question_terms(previous):
            weights.setdefault(term, HISTORY_WEIGHT)
    return weights


def select(
    question: str,
    history: list[Turn],
    evidence: list[Evidence],
    *,
    min_evidence_score: float = MIN_EVIDENCE_SCORE,
) -> list[Candidate]:
    """The sentences to answer with, in reading order; [] when the evidence is not good enough.

    Sentences that say what was asked in its own words come first. A question worded unlike
    the text (most real ones) still gets an answer when retrieval is confident about its best
    passage: then the sentences closest in meaning to the question are quoted.

    Either way the sentences must carry what was asked, not only its topic (the near misses of
    ops/eval's debian set: "How many members sit on the committee?" over a page about the
    committee): a code the question names (``grounding.is_code``) must be in the quoted passage, a
    question for a quantity is answered by a sentence with the number, and a name no passage
    has is not answered from meaning alone."""
    names = grounding.names(question)
    codes = [n for n in names if grounding.is_code(n)]
    # A code the question names, the answer's passage must name: "Which mk-configure variable
    # turns on arm64?" is not answered from a slide that never says arm64.
    naming = _naming(codes, evidence)
    # "Can bash do floating-point arithmetic?" is answered from the manual titled so, when the
    # evidence has it, not from another that says "floating-point arithmetic".
    named = grounding.named_documents(question, evidence)
    if named:
        naming = {block for block in naming if evidence[block - 1].document_id in named}
    # "How many members sit on the committee?" is not answered by a sentence about members
    # with no number of them: a question that asks for a quantity is answered by one that has it.
    quantity, counted = grounding.asks_quantity(question), grounding.counted(question)
    # "How much does a licence cost?" is not answered by "version 2.1", nor "How much faster
    # is it?" by "4000 lines of code": a question that names the kind of number wants it.
    kind = grounding.number_kind(question) if quantity else None
    # "协调节点需要多少内存？" is not answered by a storage node's 16 GB: a Chinese question for a
    # quantity is answered by a sentence about what it opens with.
    measured = grounding.subject(question, evidence)
    # "What page size does it use by default?" is not answered by a sentence about page sizes
    # that never says what holds when none is set.
    default = grounding.asks_default(question)
    # "What's the maximum number of frames a GIF can contain?" is not answered by "It plots in
    # MIF Frames with the size 15*10 cm": a question for a limit wants a sentence that states one.
    limit = grounding.asks_limit(question)
    # Quoting by shared words reads only the passages the re-ranker cannot tell from its best:
    # a lower passage's sentence that holds more of the question's words is more often on the
    # wrong page than the best passage is (the others may still answer from meaning, below).
    # Among the passages that may answer at all: "Give me the date Debian 3.1 was released" is
    # read in the passages that say 3.1, however far below others they rank.
    best = max((evidence[block - 1].score for block in naming), default=0.0)
    leading = {block for block, e in enumerate(evidence, 1) if e.score >= best - LEADING_MARGIN}

    # "And what about unions?" after a question about structs is answered about unions, when
    # the passages name them ("And the price?" may be answered by "It costs 299 euros").
    topic = new_topic(question) if history else []
    if topic and not any(_names(topic, c) for c in _candidates(evidence)):
        topic = []

    def may_answer(candidate: Candidate) -> bool:
        if candidate.block not in naming:
            return False
        if topic and not _names(topic, candidate):
            return False
        text = candidate.says
        if default and not grounding.states_default(text):
            return False
        if limit and not grounding.states_limit(text):
            return False
        if not quantity:
            return True
        if measured is not None and not _about(candidate, evidence, measured):
            return False
        return grounding.has_number(text, counted) and grounding.has_kind(text, kind)

    # "What is a login shell?" is answered by the sentence that says what it is ("A login
    # shell is one whose …"), in the best passage that has one, before any sentence that only
    # mentions it; "What does lilypond-book do?" by one that says what it does. In a
    # conversation too: "What is it?" names nothing to look for.
    saying = _saying(question, evidence, may_answer)
    if saying:
        return _continued(saying, evidence)
    # "Who wrote the letter?" is told by the name under its closing, which no word of the
    # question meets; whom it is to by its salutation, when by its date line.
    part = [c for c in _letter_part(question, evidence) if may_answer(c)]
    if part:
        return part
    # "Who wrote the hashing paper?" is told by the names under the title of its title page,
    # "When was the FAQ last updated?" by the date there.
    title_page = [c for c in _title_page_lines(question, evidence) if may_answer(c)]
    if title_page:
        return title_page
    every = [c for c in score_sentences(question, history, evidence) if may_answer(c)]
    scored = [c for c in every if c.block in leading]
    if not _says_all(scored):
        # Except a sentence of the next passages that says every word of the question, when
        # none of the best does: "What does Alt-SysRq followed by u do?" is told by the row
        # "u remount all mounted filesystems read-only" under "key following Alt-SysRq", in
        # a passage ranked below the one that says what Alt-SysRq is.
        scored += [c for c in every if c.block <= MEANING_PASSAGES and _says_all([c])]
    naming_evidence = [evidence[block - 1] for block in naming]
    if scored and max(c.coverage for c in scored) >= MIN_COVERAGE:
        if grounding.missing(names, *naming_evidence):
            # "How do I make dblatex produce EPUB output?" is not answered by sentences that
            # say how dblatex produces output, when no passage says EPUB.
            return []
        _ties_by_meaning(question, history, scored)
        chosen = _with_terms(_continued(_reading_order(_pick(scored)), evidence), may_answer)
        return _with_headings(question, _with_subject(question, chosen, evidence), evidence)
    if grounding.missing(names, *naming_evidence) or grounding.unsaid(
        grounding.unknown(question), *naming_evidence
    ):
        # Answering from meaning alone is a guess; about a name none of the evidence has
        # ("Can it export to Excel?", "What is the default swappiness?"), a guess on the
        # wrong thing.
        return []
    # The number of a counted thing is one sentence that may sit in any passage: look at all.
    reach = len(evidence) if counted and quantity else MEANING_PASSAGES
    confident = [e for e in evidence[:reach] if e.score >= min_evidence_score]
    if confident and _means_it(evidence) and _shares_a_term(question, history, confident):

        def may_answer_here(candidate: Candidate) -> bool:
            # A passage below the best three is one about the names the question says: "How
            # many undo levels does the Undo button keep?" is not answered by gnuplot's
            # "<level> = 1, the default".
            far = candidate.block > MEANING_PASSAGES
            if far and grounding.missing(names, evidence[candidate.block - 1]):
                return False
            return may_answer(candidate)

        chosen = _closest_in_meaning(question, history, confident, may_answer_here)
        answering = [evidence[block - 1] for block in {c.block for c in chosen}]
        if grounding.said_elsewhere(grounding.uncommon(question), answering, evidence):
            # "When will Debian trixie be released?" is not answered from a page about Debian
            # releases that never says trixie, when another passage does.
            return []
        chosen = _with_terms(_continued(_reading_order(chosen), evidence), may_answer)
        return _with_headings(question, _with_subject(question, chosen, evidence), evidence)
    return []


# The parts of a letter: the closing and the name under it, the salutation, the date line.
_ASKS_ADDRESSEE = re.compile(
    r"\b(addressed|written|sent)\s+to\b|^\W*to\s+whom\b|\b(recipient|addressee)\b", re.IGNORECASE
)
_ASKS_DATE = re.compile(r"^\W*(what|which)\s+date\b", re.IGNORECASE)  # or ``dated_subject``
_CLOSING = re.compile(
    r"((yours\s+)?(sincerely|faithfully|truly|respectfully)(\s+yours)?|(best|kind|warm|with\s+kind)"
    r"\s+regards|regards|best\s+wishes|cordially)\s*,?",
    re.IGNORECASE,
)
_SALUTATION = re.compile(r"(dear|hello|to)\s+\S[^,:\n]{0,60}[,:]", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_LINE = re.compile(
    rf"(({_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+({_MONTHS})\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})",
    re.IGNORECASE,
)
SIGNATURE_MAX_WORDS = 6
# A title page's names and date come within its first lines: title, subtitle, names,
# affiliations, a place and a date.
TITLE_PAGE_LINES = 6
BYLINE_MAX_WORDS = 16
DATELINE_MAX_WORDS = 8
_BYLINE_JOINS = frozenset(["and", "&", "of", "the", "de", "van", "von", "der", "inc."])
_INITIAL = re.compile(r"[A-Z]\.")


def _letter_part(question: str, evidence: list[Evidence]) -> list[Candidate]:
    """The sentences of a letter among the passages that say what the question asks about the
    letter itself: its closing and the name under it for "Who wrote …?", its salutation for
    "Whom is it addressed to?", its date line for "What date …?". [] for any other question, or
    passages that are no letter (a closing followed by a name, or a salutation)."""
    writer, addressee = byline_subject(question) is not None, _ASKS_ADDRESSEE.search(question)
    date = _ASKS_DATE.search(question) or dated_subject(question) is not None
    if not (writer or addressee or date):
        return []
    for block, item in enumerate(evidence, 1):
        # Its parts are lines of their own, which the candidates leave out as headings.
        lines = [
            Candidate(block, order, span, frozenset(terms(span.text)))
            for order, span in enumerate(_spans(item.text))
        ]
        signed = [
            [closing, name]
            for closing, name in pairwise(lines)
            if _CLOSING.fullmatch(closing.span.text) and _is_signature(name.span.text)
        ]
        saluted = [c for c in lines if _SALUTATION.fullmatch(c.span.text)]
        if not (signed or saluted):
            continue  # no letter
        dated = [c for c in lines if _DATE_LINE.fullmatch(c.span.text)]
        if writer and signed:
            return signed[-1]
        if addressee and saluted:
            return saluted[:1]
        if date and dated:
            return dated[:1]
    return []


def _title_page_lines(question: str, evidence: list[Evidence]) -> list[Candidate]:
    """Of each title page among the passages (a passage that opens with its document's
    title), the line of names under the title for "Who wrote …?", the line with a date for
    "When was … published?"; [] for another question."""
    if (subject := byline_subject(question)) is not None:
        wanted = _is_byline
    elif (subject := dated_subject(question)) is not None:
        wanted = _is_dateline
    else:
        return []
    found: list[Candidate] = []
    for block, item in enumerate(evidence, 1):
        spans = _spans(item.text)
        title = item.title or ""
        # The title page of the document asked about: not Debian's history's for "When was
        # Debian 4.0 released?".
        if not spans or not _is_title(spans[0].text, title) or not overview_names(subject, [title]):
            continue
        for order, span in enumerate(spans[1:TITLE_PAGE_LINES], 1):
            if wanted(span.text):
                found.append(Candidate(block, order, span, frozenset(terms(span.text))))
                break
    return found[:MAX_SENTENCES]


def _is_dateline(line: str) -> bool:
    """A short line with a year, in a date or not: "May 31, 2022", "Minsk, Belarus, 2012"."""
    return word_count(line) <= DATELINE_MAX_WORDS and grounding.has_year(line)


def _is_title(line: str, title: str) -> bool:
    """Whether a passage's first line is its document's title (or the title begins with it:
    "Traits User Interface Class" of "Traits User Interface Class Jon-Eric Steinbomer")."""
    first, whole = " ".join(line.lower().split()), " ".join(title.lower().split())
    return bool(first) and whole.startswith(first)


def _is_byline(line: str) -> bool:
    """A line of people's names: every word capitalised but a few joining ones ("of", "and"),
    an address or an affiliation between them, and an initial or an uncommon name among them
    ("Michael A. Olson Keith Bostic Margo Seltzer", "Margo Seltzer - University of California,
    Berkeley"; not "An Interactive Plotting Program", nor a date)."""
    names = [w.strip("-–,()") for w in line.split() if "@" not in w]
    names = [w for w in names if w and w.lower() not in _BYLINE_JOINS]
    if not 2 <= len(names) <= BYLINE_MAX_WORDS or any(ch.isdigit() for ch in line):
        return False
    if not all(w[0].isupper() for w in names):
        return False
    return any(
        _INITIAL.fullmatch(w) or not grounding.is_common(w.lower().strip(".")) for w in names
    )


def _is_signature(line: str) -> bool:
    """A name on a line of its own: a few words, each capitalised ("Yannick P. Guique")."""
    names = line.split()
    return 0 < len(names) <= SIGNATURE_MAX_WORDS and all(w[0].isupper() for w in names)


def _says_all(candidates: list[Candidate]) -> bool:
    """Whether one of the sentences has every query term, in its own words or its table's
    header (not only in other words)."""
    return any(c.share and set(c.share) <= c.matched - c.near for c in candidates)


def _saying(
    question: str, evidence: list[Evidence], may_answer: Callable[[Candidate], bool]
) -> list[Candidate]:
    """The first sentence that says what the question's X is ("What is X?") or does ("What
    does X do?"), as one that may answer; for "What is the difference between X and Y?", the
    first that says what X is and the first that says what Y is, when there are both; [] for
    another question, or none."""
    pair = difference_subjects(question)
    if pair:
        candidates = [c for c in _candidates(evidence) if may_answer(c)]
        each = [[c for c in candidates if defines(s, c.span.text)][:1] for s in pair]
        return _reading_order(each[0] + each[1]) if all(each) else []
    for subject_of, says in ((definition_subject, defines), (action_subject, says_what_it_does)):
        subject = subject_of(question)
        if subject:
            found = (c for c in _candidates(evidence) if says(subject, c.span.text))
            return next(([c] for c in found if may_answer(c)), [])
    return []


def _naming(codes: list[str], evidence: list[Evidence]) -> set[int]:
    """The passages that name every code; when none does but the evidence names them all, those
    that name one: "the difference between $* and $@" is told by two entries of a list, which
    may fall in two passages."""
    every = {block for block, e in enumerate(evidence, 1) if not grounding.missing(codes, e)}
    if every or len(codes) < 2 or grounding.missing(codes, *evidence):
        return every
    return {
        block
        for block, e in enumerate(evidence, 1)
        if len(grounding.missing(codes, e)) < len(codes)
    }


def _about(candidate: Candidate, evidence: list[Evidence], subject: str) -> bool:
    """Whether the sentence says ``subject``, or its passage's heading does: "管道的大小始终是
    零" under "1.2.8 命名管道" is about 命名管道."""
    return subject in candidate.says or subject in (evidence[candidate.block - 1].heading or "")


def _names(topic: list[str], candidate: Candidate) -> bool:
    return any(has_term(t, candidate.terms) for t in topic)


def overview(evidence: list[Evidence]) -> list[Candidate]:
    """What the documents are about, in the order of the evidence (workflows.overview: each
    document's opening, then a passage per main topic): the first sentences of a document's
    first passage (two when the answer is about one document), the first sentence of each
    other one; in at most ``OVERVIEW_MAX_WORDS`` words."""
    documents = {e.document_id for e in evidence}
    opening = OVERVIEW_OPENING if len(documents) == 1 else 1
    chosen: list[Candidate] = []
    seen: set[str] = set()
    used = 0
    for block, item in enumerate(evidence, 1):
        wanted = 1 if item.document_id in seen else opening
        seen.add(item.document_id)
        said = [c for c in _candidates([item]) if _says(c.span.text) and not c.tail]
        for candidate in said[:wanted]:
            length = word_count(candidate.span.text)
            if used + length > OVERVIEW_MAX_WORDS:
                return chosen
            chosen.append(replace(candidate, block=block))
            used += length
    return chosen


def compose_overview(chosen: list[Candidate], evidence: list[Evidence]) -> str:
    """``compose``, each document's sentences led by its name when there are several."""
    documents = list(dict.fromkeys(evidence[c.block - 1].document_id for c in chosen))
    if len(documents) < 2:
        return compose(chosen)
    numbers = source_numbers(chosen)
    parts = []
    for document in documents:
        own = [c for c in chosen if evidence[c.block - 1].document_id == document]
        name = evidence[own[0].block - 1].title or "A document"
        parts.append(f"{name}: {compose(own, numbers)}")
    return "\n\n".join(parts)


def _says(sentence: str) -> bool:
    """A sentence of prose, not a table of contents' line ("1.2 Obtaining this document . . 1")."""
    numbering = sum(1 for w in sentence.split() if _NUMBERING.fullmatch(w))
    prose = word_count(sentence) - numbering
    return prose >= 4 and sentence[-1] in SENTENCE_ENDS and not LEADERS.search(sentence)


def _means_it(evidence: list[Evidence]) -> bool:
    """Whether one of the best passages is close in meaning to the question, by the re-ranker's
    encoder (``Evidence.meaning``); True when that is not known. A stray question ("How do I
    bake sourdough bread?") over a manual still gets passages the re-ranker scores above the
    bar, since some words match; their encoder cosines stay below MIN_MEANING."""
    known = [e.meaning for e in evidence[:MEANING_PASSAGES] if e.meaning is not None]
    return not known or max(known) >= MIN_MEANING


def _shares_a_term(question: str, history: list[Turn], evidence: list[Evidence]) -> bool:
    """Whether any of these passages (their titles and headings too) has one of the question's
    terms (a follow-up's, with the previous question's). Paraphrases share few words with
    their answer's passage, but one at least; a stray question ("How can I improve my
    sleep?") whose closest passages share none is answered by whatever sits nearest in
    meaning, which is a guess. A question of stop words alone has nothing to check."""
    asked = set(query_weights(question, history))
    if not asked:
        return True
    said = frozenset().union(
        *(term_set(p or "") for e in evidence for p in (e.title, e.heading, e.text))
    )
    return any(has_term(a, said) for a in asked)


def _closest_in_meaning(
    question: str,
    history: list[Turn],
    evidence: list[Evidence],
    may_answer: Callable[[Candidate], bool] = lambda _: True,
) -> list[Candidate]:
    """The best sentences of these passages by cosine to the question (with the previous
    question for a follow-up), the passage's rank breaking near-ties."""
    candidates = [c for c in _candidates(evidence) if may_answer(c) and not _fragment(c)]
    if not candidates:
        return []
    vectors = text_vectors([_asked(question, history), *(c.span.text for c in candidates)])
    closeness = vectors[1:] @ vectors[0]
    ranked_ = sorted(
        (
            replace(c, score=float(cos) + _bonus(c.block, len(evidence)) * 2)
            for c, cos in zip(candidates, closeness, strict=True)
        ),
        key=lambda c: -c.score,
    )
    # Each passage's best sentence first, then the best of the rest: the passages were close
    # in the re-ranker's eyes, and the answer may sit in any of them.
    picked: list[Candidate] = []
    for per_passage in (1, MEANING_PER_PASSAGE):
        for candidate in ranked_:
            if len(picked) == MEANING_SENTENCES:
                return picked
            if candidate in picked or any(_near_duplicate(candidate, p) for p in picked):
                continue
            if sum(p.block == candidate.block for p in picked) < per_passage:
                picked.append(candidate)
    return picked


def _fragment(candidate: Candidate) -> bool:
    """A line of a word or two: a figure's labels ("Survival", "Responders Non-responders"
    drawn in a plot, read as a table's rows), a heading, a bullet's name. Its few words are all
    topic, so it sits close in meaning to any question on that topic while saying nothing."""
    return word_count(candidate.says) < MEANING_MIN_WORDS


def _asked(question: str, history: list[Turn]) -> str:
    """The question, with the previous one for a follow-up: what meaning is compared with."""
    return f"{question} {previous_question(history)}" if is_follow_up(question) else question


def _ties_by_meaning(question: str, history: list[Turn], scored: list[Candidate]) -> None:
    """Sentences that score alike on shared words are told apart by meaning: the rows of a
    table share its header's words, and "{/Times*2 abc} … at twice current size" answers "at
    double the current font size" where "{/Times abc} … at current size" does not. Reorders
    only the near-ties at the top (``TIE_MARGIN``), in place."""
    best = max((c.score for c in scored), default=0.0)
    tied = [i for i, c in enumerate(scored) if c.score >= best - TIE_MARGIN]
    if len(tied) < 2:
        return
    vectors = text_vectors([_asked(question, history), *(scored[i].says for i in tied)])
    for i, cos in zip(tied, vectors[1:] @ vectors[0], strict=True):
        scored[i] = replace(scored[i], score=best + TIE_MARGIN * float(cos))


def best_coverage(prompt: Prompt) -> float:
    """What the not-found decision compares with ``MIN_COVERAGE``."""
    evidence = ranked(prompt.evidence)[:MAX_EVIDENCE]
    scored = score_sentences(prompt.question, prompt.history, evidence)
    return max((c.coverage for c in scored), default=0.0)


def score_sentences(
    question: str, history: list[Turn], evidence: list[Evidence]
) -> list[Candidate]:
    """The sentences that may answer, scored. When the question has terms of its own, only
    sentences sharing one of them qualify: the history says what "it" is, the question says
    what is asked about it."""
    candidates = _candidates(evidence)
    weights = query_weights(question, history)
    for seam in _seams(question, candidates):
        weights.pop(seam, None)
    if not weights or not candidates:
        return []
    idf = _idf(list(weights), candidates)
    total = sum(idf[t] * m for t, m in weights.items())
    share = {t: idf[t] * m / total for t, m in weights.items()}
    own = {t for t, m in weights.items() if m == 1.0}
    scored: list[Candidate] = []
    passages = _passage_terms(evidence)
    meaning = _Meaning(_term_words(question, history), candidates)
    # "Who led Debian in 2004?" is said by "… from March 2003 until March 2005".
    years = [t for t in weights if grounding.is_year(t)]
    for c in candidates:
        exact = frozenset(t for t in weights if has_term(t, c.terms)) | frozenset(
            t for t in years if grounding.spans(t, c.says)
        )
        header = frozenset(  # a row that says something asked is read with its header
            t for t in weights.keys() - exact if exact and has_term(t, c.table)
        )
        near = meaning.matches(weights.keys() - exact - header, c)
        matched = exact | header | near
        if own and not matched & own:
            continue
        around = frozenset(t for t in weights.keys() - matched if has_term(t, passages[c.block]))
        coverage = (
            sum(share[t] for t in exact)
            + NEAR_WEIGHT * sum(share[t] for t in near)
            + HEADER_WEIGHT * sum(share[t] for t in header)
            + CONTEXT_WEIGHT * sum(share[t] for t in around)
        )
        bonus = _bonus(c.block, len(evidence))
        scored.append(
            replace(
                c,
                matched=matched,
                near=near,
                share=share,
                coverage=coverage,
                score=coverage + bonus,
            )
        )
    return scored


def _seams(question: str, candidates: list[Candidate]) -> set[str]:
    """The question's CJK character pairs that straddle two words the passages know: "看节" of
    "查看节点状态", where "查看" and "节点" are found and "看节" nowhere. Pairs are read without a
    dictionary, so such a seam is no word; counted, it would weigh most (no sentence has it)
    and hold back every answer. A pair no sentence has between two that no sentence has
    either ("表数" of "最大表数量") may be what is asked and missing, and stays."""
    runs = pair_runs(question)
    found = {p for run in runs for p in run if any(p in c.terms for c in candidates)}
    return {
        run[i]
        for run in runs
        for i in range(1, len(run) - 1)
        if run[i] not in found and run[i - 1] in found and run[i + 1] in found
    }


class _Meaning:
    """Query terms a sentence says in other words: "temperature" ~ "degrees", "tall" ~
    "height". wordllama word vectors (cached), compared as written — stems lose the meaning."""

    def __init__(self, query_words: Mapping[str, str], candidates: list[Candidate]) -> None:
        # Not a CJK character pair: two pairs that share a character are near in wordllama's
        # space whatever they mean ("天天" ~ "每天" 0.77, "加密" ~ "密码" 0.75, where the
        # synonyms "加密" ~ "保护" are 0.22).
        query = {t: w for t, w in query_words.items() if not cjk.has_cjk(w)}
        vocabulary = list(dict.fromkeys(w for c in candidates for w in c.words))
        self._row = {t: i for i, t in enumerate(query)}
        self._column = {w: i for i, w in enumerate(vocabulary)}
        # Every query word against every word of the passages, at once: each sentence then
        # reads its own columns.
        self._similarity = text_vectors(list(query.values())) @ text_vectors(vocabulary).T

    def matches(self, wanted: Iterable[str], candidate: Candidate) -> frozenset[str]:
        columns = [self._column[w] for w in candidate.words]
        wanted = [t for t in wanted if t in self._row]
        if not columns or not wanted:
            return frozenset()
        rows = [self._row[t] for t in wanted]
        best = self._similarity[np.ix_(rows, columns)].max(axis=1)
        return frozenset(t for t, b in zip(wanted, best, strict=True) if b >= NEAR_MIN_COSINE)


def _term_words(question: str, history: list[Turn]) -> dict[str, str]:
    """Each query term with the word it came from (the question's first, then history's)."""
    previous = previous_question(history)
    found: dict[str, str] = {}
    for word in question_words(question) + question_words(previous):
        term = term_of(word)
        if term is not None:
            found.setdefault(term, word)
    return found


def _passage_terms(evidence: list[Evidence]) -> dict[int, frozenset[str]]:
    """Every term of each passage: what a sentence's neighbours (and heading) say about it."""
    return {block: term_set(item.text) for block, item in enumerate(evidence, 1)}


def compose(chosen: list[Candidate], numbers: Mapping[int, int] | None = None) -> str:
    """Sentences joined, a [n] closing each run of sentences from one passage (numbered by
    ``source_numbers`` unless ``numbers`` says)."""
    numbers = numbers or source_numbers(chosen)
    out: list[str] = []
    for i, candidate in enumerate(chosen):
        sentence = candidate.span.text
        if candidate.tail:
            sentence = f"…{sentence}"  # the passage starts mid-sentence: say so
        last_of_run = i + 1 == len(chosen) or chosen[i + 1].block != candidate.block
        if last_of_run:
            sentence = _mark(sentence, numbers[candidate.block])
        out.append(sentence)
    return _joined(out)


def _joined(sentences: list[str]) -> str:
    """Sentences one after another: a space after each, but none after a full-width stop
    ("。"), as Chinese and Japanese are written."""
    text = ""
    for sentence in sentences:
        if text and text[-1] not in _FULL_WIDTH_ENDS:
            text += " "
        text += sentence
    return text


def source_numbers(chosen: list[Candidate]) -> dict[int, int]:
    """Each quoted passage's [n]: 1, 2, ... in the order the answer quotes them, as a reader
    expects (a remote model's markers are the evidence numbers of its prompt instead)."""
    numbers: dict[int, int] = {}
    for candidate in chosen:
        numbers.setdefault(candidate.block, len(numbers) + 1)
    return numbers


def _mark(sentence: str, block: int) -> str:
    """ "... 30 days [1]." — the marker inside the sentence's closing punctuation."""
    if sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{block}]{sentence[-1]}"
    if sentence[-1] in _FULL_WIDTH_ENDS:  # "自动删除[1]。"
        return f"{sentence[:-1]}[{block}]{sentence[-1]}"
    return f"{sentence} [{block}]"


def _candidates(evidence: list[Evidence]) -> list[Candidate]:
    """The sentences of the passages that may answer, numbered by passage (``block``)."""
    return [
        candidate
        for block, item in enumerate(evidence, 1)
        for candidate in _passage_candidates(block, item.text, item.heading)
    ]


@lru_cache(maxsize=PASSAGES_REMEMBERED)
def _passage_candidates(block: int, text: str, heading: str | None) -> tuple[Candidate, ...]:
    if is_contents(text):
        return ()  # "4 2.4 How can R be obtained?. . . . 4 2.5 ..." quotes no answer
    out: list[Candidate] = []
    first = True
    rows = _table_rows(text)
    spans = _spans(text)
    term: Span | None = None
    term_order = -1
    for order, span in enumerate(spans):
        found = frozenset(terms(span.text))
        is_heading = _is_heading(span.text, heading) and span not in rows
        # Every sentence of a description describes its term ("xetex" over "The driver
        # calls xelatex … This engine natively supports UTF-8"), not only the first.
        if order == 0 or "\n" in text[spans[order - 1].end : span.start]:
            term, term_order = _term_above(text, heading, spans, order), order - 1
        if found and not is_heading and not _POINTER.match(span.text):
            content = tuple(w for w in words(span.text) if term_of(w) is not None)
            tail = first and _begins_mid_sentence(span.text)
            candidate = Candidate(
                block, order, span, found, content, tail=tail, term=term, term_order=term_order
            )
            if span in rows:
                candidate = replace(candidate, table=rows[span], row=True)
            out.append(candidate)
            first = False
    return tuple(out)


@lru_cache(maxsize=PASSAGES_REMEMBERED)
def _spans(passage: str) -> tuple[Span, ...]:
    """The passage's sentences, each table row whole: what its candidates are cut from."""
    return tuple(_whole_rows(sentences(passage), _table_rows(passage)))


def _table_rows(passage: str) -> dict[Span, frozenset[str]]:
    """The rows of the passage's tables, each with the words of its table's header row and
    caption (what its cells are). A table is a run of at least ``TABLE_MIN_ROWS`` paragraphs
    of one line each that end no sentence ("4 KERN_WARNING warning conditions", "/dev/full
    write return the disk-full (ENOSPC) error"), the first its header row. Such a line,
    alone, reads like a heading; in a table, it is what a table's question is answered by."""
    rows: dict[Span, frozenset[str]] = {}
    run: list[Span] = []
    for match in [*_PARAGRAPH.finditer(passage), None]:
        text = match.group().strip() if match else ""
        if match and text and "\n" not in text and text[-1] not in ".!?:;。！？：；":
            start = match.start() + match.group().index(text)
            if not _CAPTION.match(text):
                run.append(Span(start, start + len(text), text))
                continue
        if len(run) >= TABLE_MIN_ROWS:
            caption = _CAPTION.match(text)
            header = f"{run[0].text} {text[caption.end() :] if caption else ''}"
            rows |= dict.fromkeys(run[1:], frozenset(terms(header)))
        run = []
    return rows


def _whole_rows(spans: list[Span], rows: Iterable[Span]) -> list[Span]:
    """The sentences, with each table row one sentence: "$? all newer prerequisites" is not
    the question "$?" and the fragment "all newer prerequisites"."""
    if not rows:
        return spans
    out = [s for s in spans if not any(r.start <= s.start < r.end for r in rows)]
    return sorted([*out, *rows], key=lambda s: s.start)


def _term_above(text: str, heading: str | None, spans: Sequence[Span], order: int) -> Span | None:
    """The term line of a definition list that the sentence at ``order`` starts describing:
    a line of its own right above the sentence's paragraph, short, no sentence and no heading,
    that reads as a term ("HISTIGNORE", "double tol_bnd (default: 1e-7)", "-f, --format=fmt";
    not "Description" or "Control parameters")."""
    if order == 0:
        return None
    above, span = spans[order - 1], spans[order]
    own_line = above.start == 0 or text[above.start - 1] == "\n"
    if not own_line or "\n" not in text[above.end : span.start]:
        return None
    if word_count(above.text) > TERM_MAX_WORDS or above.text[-1] in ".!?;:":
        return None
    if heading and above.text == heading.strip():
        return None
    return above if _TERM_LIKE.search(above.text) else None


def _with_terms(
    chosen: list[Candidate], may_answer: Callable[[Candidate], bool]
) -> list[Candidate]:
    """Each sentence that answers only with the term line it describes (the default is on
    the line "double tol_bnd (default: 1e-7)"), quoted after that line (once)."""
    out: list[Candidate] = []
    for candidate in chosen:
        term = candidate.term
        if (
            term is not None
            and (not may_answer(replace(candidate, term=None)) or _unnamed(term, candidate))
            and not any(c.block == candidate.block and c.span == term for c in out)
        ):
            out.append(replace(candidate, order=candidate.term_order, span=term, term=None))
        out.append(candidate)
    return out


def _unnamed(term: Span, candidate: Candidate) -> bool:
    """The term is a name its description does not say: "If nonnegative, commands whose …
    have timing statistics printed" answers "How do I get timing statistics?" with the line
    above it, "REPORTTIME"."""
    if candidate.row or candidate.span.text[0] in _BULLETS:
        return False  # a table's row or a list's item: the line above is not its subject
    name = term.text.split(maxsplit=1)[0].rstrip(",")
    return bool(_NAME_TERM.fullmatch(term.text)) and name.lower() not in candidate.span.text.lower()


def _with_headings(
    question: str, chosen: list[Candidate], evidence: list[Evidence]
) -> list[Candidate]:
    """Each passage's heading quoted before its sentences, when the question asks which part
    of a document (``_ASKS_PART``), the heading names that kind of part and the sentences do
    not."""
    asked = _ASKS_PART.search(question)
    if asked is None:
        return chosen
    part = term_of(asked.group(1))
    out: list[Candidate] = []
    for candidate in chosen:
        item = evidence[candidate.block - 1]
        heading = (item.heading or "").strip()
        start = item.text.find(heading) if heading else -1
        if (
            start >= 0
            and part in terms(heading)
            and part not in terms(candidate.says)
            and not any(c.block == candidate.block and c.order < 0 for c in out)
        ):
            span = Span(start, start + len(heading), heading)
            out.append(replace(candidate, order=-1, span=span, term=None, row=False))
        out.append(candidate)
    return out


def _with_subject(
    question: str, chosen: list[Candidate], evidence: list[Evidence]
) -> list[Candidate]:
    """A sentence that answers "Which release introduced apt?" without saying which ("The key
    technical innovation was the introduction of apt") quoted after its paragraph's opening,
    which names what the paragraph is about ("Debian 2.1 Slink (March 9th, 1999): Named for
    the slinky-dog in the movie."): when the sentence has neither the asked kind of thing nor
    a name or a number, and the opening has a name or a number. So too a sentence that
    answers "When was support for m68k dropped?" with no year ("… in this release"), when its
    paragraph's opening has one."""
    thing = grounding.asked_thing(question)
    when = _ASKS_WHEN.match(question) is not None
    if thing is None and not when:
        return chosen
    out: list[Candidate] = []
    for candidate in chosen:
        opening = _paragraph_opening(evidence[candidate.block - 1].text, candidate.order)
        if (
            opening is not None
            and _tells_what_it_lacks(opening[1].text, candidate, thing, when)
            # not quoted already, from this passage or another that says the same
            and opening[1].text not in {c.span.text for c in chosen + out}
        ):
            out.append(replace(candidate, order=opening[0], span=opening[1], term=None, row=False))
        out.append(candidate)
    return out


def _tells_what_it_lacks(opening: str, candidate: Candidate, thing: str | None, when: bool) -> bool:
    """Whether a paragraph's opening sentence says what its sentence leaves to it: the year
    asked for by "when", or some name or number when the sentence has neither that nor the
    kind of ``thing`` asked for."""
    if word_count(opening) < SUBJECT_MIN_WORDS:
        return False
    if when:
        return not grounding.has_year(candidate.says) and grounding.has_year(opening)
    return (
        thing is not None
        and thing not in candidate.terms
        and not _names_something(candidate.says)
        and _names_something(opening)
    )


def _paragraph_opening(passage: str, order: int) -> tuple[int, Span] | None:
    """The first sentence of the paragraph of the sentence at ``order``, with its order; None
    when that is the sentence itself, or it began in the segment before."""
    spans = _spans(passage)
    first = order
    while first > 0 and "\n" not in passage[spans[first - 1].end : spans[first].start]:
        first -= 1
    if first == order or (first == 0 and _begins_mid_sentence(spans[0].text)):
        return None
    return first, spans[first]


def _names_something(sentence: str) -> bool:
    """Whether a sentence has a name, a code or a number (not counting its first word)."""
    return bool(grounding.names(sentence)) or any(ch.isdigit() for ch in sentence)


def _begins_mid_sentence(text: str) -> bool:
    """Opens on a common word in lower case ("programs, either by dynamic linking…"), not on
    a name written so ("gnuplot is a portable…")."""
    return text[0].islower() and grounding.is_common(text.split(maxsplit=1)[0])


def _is_heading(text: str, heading: str | None) -> bool:
    """A heading or caption line: context for its passage, but no answer on its own."""
    if heading and text == heading.strip():
        return True
    return text[-1] not in ".!?:;)\"'”。！？：；）」" and word_count(text) <= HEADING_MAX_WORDS


def _idf(query: list[str], candidates: list[Candidate]) -> dict[str, float]:
    n = len(candidates)
    df = {t: sum(has_term(t, c.terms) for c in candidates) for t in query}
    return {t: math.log(1 + (n + 1) / (df[t] + 0.5)) for t in query}


def _bonus(block: int, blocks: int) -> float:
    return RANK_BONUS * (blocks - block + 1) / blocks


def _pick(scored: list[Candidate]) -> list[Candidate]:
    """Greedy set cover: the best sentence, then each next-best one that covers query terms
    not covered yet (at least ``MIN_GAIN`` of the query), up to MAX_SENTENCES / words."""
    picked: list[Candidate] = []
    covered: set[str] = set()
    words_used = 0
    for candidate in sorted(scored, key=lambda c: -c.score):
        gain = sum(candidate.share[t] for t in candidate.matched - covered)
        length = word_count(candidate.span.text)
        if picked and (
            (gain < MIN_GAIN and not _goes_on_from(candidate, picked))
            or words_used + length > MAX_ANSWER_WORDS
        ):
            continue
        if any(_near_duplicate(candidate, p) for p in picked):
            continue
        picked.append(candidate)
        covered |= candidate.matched | _term_covers(candidate)
        words_used += length
        if len(picked) == MAX_SENTENCES:
            break
    return picked


def _goes_on_from(candidate: Candidate, picked: list[Candidate]) -> bool:
    """A whole sentence right after a picked one of its passage, scored almost as well."""
    if not _says(candidate.span.text):
        return False  # a code line or a table's row: its neighbour is no reason to quote it
    return any(
        p.block == candidate.block
        and p.order + 1 == candidate.order
        and candidate.score >= NEXT_SENTENCE_RATIO * p.score
        for p in picked
    )


def _term_covers(candidate: Candidate) -> set[str]:
    """The query terms the sentence's term line has: no other sentence is needed for them."""
    if candidate.term is None:
        return set()
    said = frozenset(terms(candidate.term.text))
    return {t for t in candidate.share if has_term(t, said)}


def _near_duplicate(a: Candidate, b: Candidate) -> bool:
    """Overlapping segments repeat sentences; quoting one twice reads badly."""
    union = a.terms | b.terms
    return bool(union) and len(a.terms & b.terms) / len(union) >= 0.8


def _reading_order(picked: list[Candidate]) -> list[Candidate]:
    first_seen: dict[int, int] = {}
    for rank, candidate in enumerate(picked):  # picked is best first
        first_seen.setdefault(candidate.block, rank)
    return sorted(picked, key=lambda c: (first_seen[c.block], c.order))


def _continued(chosen: list[Candidate], evidence: list[Evidence]) -> list[Candidate]:
    """Each sentence that leads in to what follows it ("To solve Ax = b, use the left division
    operator:", "Here is an example showing the difference:") with what follows, when the
    answer does not quote it already and it is short: alone, it promises what it does not show.
    So too a sentence whose next one goes on from it ("… if you do indexing of zoo objects in
    an inner loop." "In that case extract the data and time components prior to the loop."):
    the problem is quoted, and the next sentence is what to do about it."""
    out: list[Candidate] = []
    for i, candidate in enumerate(chosen):
        out.append(candidate)
        after = chosen[i + 1] if i + 1 < len(chosen) else None
        if (
            after is not None
            and after.block == candidate.block
            and (after.order == candidate.order + 1 or after.row)  # the row it leads in to
        ):
            continue
        item = evidence[candidate.block - 1]
        following = _spans(item.text)[candidate.order + 1 :]
        if (
            following
            and (_leads_in(candidate) or _GOES_ON.match(following[0].text))
            and word_count(following[0].text) <= CONTINUATION_MAX_WORDS
            and not following[0].text.endswith(_ASKS)  # a list of questions answers none
        ):
            out.append(replace(candidate, order=candidate.order + 1, span=following[0]))
    return out


def _leads_in(candidate: Candidate) -> bool:
    """Whether the sentence promises what follows it: it ends in ":" or asks, or points at what
    follows ("通过下列方式建立。", "如下"), or it is cut off
    (by a word that cannot end a sentence, or by a display: "You can specify an abbreviated
    title for the running head with the command" over "\\titlerunning{…}"), or it only says
    again what was asked (a slide's "How blocks help in perfect phylogeny haplotyping." over
    the steps that tell how)."""
    text = candidate.span.text
    return (
        text.endswith(_LEADS_IN)
        or _POINTS_AHEAD_CJK.search(text) is not None
        or text.rsplit(maxsplit=1)[-1].lower() in _UNFINISHED
        or (text[-1].isalpha() and not candidate.row and word_count(text) > HEADING_MAX_WORDS)
        or _echoes(candidate)
    )


def _echoes(candidate: Candidate) -> bool:
    """Whether every content word of the sentence is one the question asks with."""
    asked = frozenset(candidate.share)
    return bool(asked) and all(has_term(term, asked) for term in candidate.terms)


def _citations(chosen: list[Candidate], evidence: list[Evidence]) -> list[Citation]:
    numbers = source_numbers(chosen)
    citations: list[Citation] = []
    for candidate in chosen:
        item = evidence[candidate.block - 1]
        citations.append(
            Citation(
                item.document_id,
                item.page,
                item.segment_id,
                shorten(candidate.span.text),
                marker=numbers[candidate.block],
            )
        )
    return citations


def _word_pieces(text: str, max_tokens: int) -> list[str]:
    """Each word with the whitespace after it, stopped at ``max_tokens`` (estimated)."""
    pieces: list[str] = []
    used = 0
    for piece in _PIECE.findall(text):
        used += estimate_tokens(piece)
        if used > max_tokens:
            break
        pieces.append(piece)
    return pieces
