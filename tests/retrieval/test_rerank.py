"""Re-rankers: the offline hybrid one on hand-written question sets (quality, determinism,
speed), the Cohere one through the official client against a local server."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence

import numpy as np
import pytest

import pdfgen
from config import Settings
from core.errors import InvalidInput, TransientError
from retrieval import (
    CohereReranker,
    Embedder,
    LocalEmbedder,
    LocalReranker,
    ProviderError,
    Reranker,
    RetryPolicy,
    create_reranker,
)
from retrieval.encoder import load_encoder
from retrieval.rerank import (
    CORPUS_WEIGHTS,
    ENCODER_WEIGHTS,
    OPTION_BONUS,
    Analysed,
    bm25_scores,
    options,
    stem,
)
from tests.retrieval.fake_apis import API_KEY, FakeAPIs

FAST = RetryPolicy(attempts=3, base_s=0.01, max_s=0.02, timeout_s=5.0)
EMBEDDER = LocalEmbedder()
HYBRID = LocalReranker(EMBEDDER)
COSINE_ONLY = LocalReranker(EMBEDDER, weights={"cosine": 1.0})

# ---------------------------------------------------------------------------------------------
# Question sets. Each question paraphrases the one sentence that answers it; sentences are
# grouped by four into page-like segments. HANDBOOK and MANUAL were used to choose the weights,
# TENANT was written afterwards and only measured.

HANDBOOK = [
    "Employees accrue 25 days of paid annual leave per calendar year.",
    "Unused days may be carried over until the end of March of the following year.",
    "Managers approve holiday requests in the HR system within five working days.",
    "Public holidays that fall on a weekend are not compensated.",
    "Annual reports are published every March and list the paid-in capital of each subsidiary.",
    "The audit committee meets four times a year to review the accounts.",
    "Dividends are paid to shareholders in May, after the general meeting.",
    "Copies of past reports can be requested from the investor relations office.",
    "The cafeteria on the ground floor serves breakfast from 7:30 and lunch until 14:00.",
    "Vegetarian and vegan dishes are offered every day.",
    "Coffee machines are cleaned every Friday afternoon by the facilities team.",
    "Meal vouchers are loaded onto your badge at the start of each month.",
    "To reset a forgotten password, open the sign-in page, choose 'Forgot password' and follow "
    "the link sent to your e-mail address.",
    "Passwords must be at least twelve characters long and are changed every ninety days.",
    "Never share your credentials with colleagues, not even with the IT desk.",
    "Two-factor authentication is mandatory for all remote connections.",
    "Passwords for the shared printer are taped on the printer itself; do not change them.",
    "Paper and toner are stored in the supply room next to the elevators.",
    "Colour printing is limited to 200 pages per person per month.",
    "Broken office chairs are replaced by the facilities team on request.",
    "Travel expenses are reimbursed within 30 days once receipts are submitted.",
    "Economy class is the standard for flights shorter than six hours.",
    "Hotel costs above 150 euros per night need prior approval from your manager.",
    "Mileage for private cars used on business trips is paid at 0.23 euros per kilometre.",
    "The finance portal is closed for maintenance on the first Sunday of every month.",
    "Invoices from suppliers are entered in the finance portal by the accounts team.",
    "Purchase orders above 5,000 euros require two signatures.",
    "The fiscal year runs from April to March.",
    "New staff receive a laptop and a security badge on their first working day from the IT desk.",
    "Each newcomer is paired with a buddy for the first three months.",
    "The probation period lasts two months for permanent contracts.",
    "An introduction day for all new hires is held on the first Monday of each quarter.",
    "Parking spaces in the underground garage are assigned by seniority.",
    "Visitors must park on the street or in the public garage across the road.",
    "Bicycles can be stored in the locked shed behind the building.",
    "Charging points for electric vehicles are reserved for pool cars.",
    "Fire drills take place twice a year.",
    "When the alarm sounds, leave the building by the nearest stairway and gather at the "
    "assembly point in the car park.",
    "Do not use the elevators during a fire.",
    "Each floor has two trained emergency responders wearing yellow vests.",
    "The company was founded in 1987 in Rotterdam by two marine engineers.",
    "Our headquarters moved from Rotterdam to Amsterdam in 2004.",
    "The first product was a pump for cargo ships.",
    "Today the group employs about 4,300 people in eleven countries.",
    "Parental leave of up to 16 weeks is granted to every parent after the birth or adoption "
    "of a child.",
    "During parental leave the salary is paid at 70 percent.",
    "Employees may take two days of paid leave to care for a sick family member.",
    "A crèche near the office offers discounted places to staff.",
    "Overtime is compensated with time off in lieu rather than extra pay, at a rate of 1.5 hours "
    "per hour worked.",
    "Remote work is allowed for up to three days a week with the approval of your manager.",
    "Core hours are from 10:00 to 15:00.",
    "Working hours are recorded in the time sheet every Friday.",
    "The HR system stores personal data for seven years after an employee leaves.",
    "You can download a copy of your personal file from the HR system at any time.",
    "Medical information is kept separately and only the company doctor may read it.",
    "Requests to correct personal data are handled within one month.",
    "Customer complaints must be answered within two business days by the support team.",
    "Refunds to customers above 500 euros are approved by the head of sales.",
    "Support is available by phone from 8:00 to 20:00 on weekdays.",
    "Every complaint is logged in the ticket system with a priority.",
    "Security badges that are lost must be reported to reception immediately so they can be "
    "blocked.",
    "A replacement badge costs 15 euros and is ready the next morning.",
    "Badges must be worn visibly at all times inside the building.",
    "Guests receive a day pass at reception and must be accompanied.",
]
HANDBOOK_QUESTIONS = [
    ("How many vacation days do I get each year?", 0),
    ("Can I keep holidays I did not take for next year?", 1),
    ("What should I do if I can't remember my login credentials?", 12),
    ("How often do I have to pick a new password?", 13),
    ("When will I get my money back for business trips?", 20),
    ("How much is paid for driving my own car for work?", 23),
    ("Do I need permission for an expensive hotel?", 22),
    ("What equipment is handed out to newcomers when they start?", 28),
    ("How long is the trial period for new employees?", 30),
    ("Where do guests leave their cars?", 33),
    ("Where can I put my bike?", 34),
    ("In which year was the firm established?", 40),
    ("How many people work for the group?", 43),
    ("How long can a mother or father stay home after a baby arrives?", 44),
    ("How much salary do I receive while on leave for a newborn?", 45),
    ("Can I stay home when my child is ill?", 46),
    ("Do I get paid extra for working late?", 48),
    ("Can I work from home?", 49),
    ("When do I have to be at the office?", 50),
    ("How quickly do clients get a reply when they are unhappy?", 56),
    ("Who decides on giving a large sum back to a customer?", 57),
    ("What happens if I misplace my access card?", 60),
    ("How much does a new badge cost?", 61),
    ("Where do we meet during an evacuation?", 37),
    ("Can I take the lift when there is a fire?", 38),
    ("When is lunch served?", 8),
    ("Is there food without meat in the canteen?", 9),
    ("How long is employee information kept after someone quits?", 52),
    ("Who is allowed to see my health records?", 54),
    ("When is the finance portal unavailable?", 24),
    ("Who needs to sign a large order?", 26),
    ("When does the financial year start?", 27),
    ("How often does the audit committee meet?", 5),
    ("When are dividends paid out?", 6),
    ("How many colour pages may I print?", 18),
]
MANUAL = [
    "Before first use, rinse the water tank and run two cycles with clean water only.",
    "The water tank holds 1.8 litres and is removed by lifting it straight up.",
    "Fill the tank with cold tap water; never use sparkling or mineral water.",
    "The machine switches itself off after 30 minutes without use to save energy.",
    "Descale the appliance every three months, or sooner in areas with hard water.",
    "Use only the descaling liquid supplied by the manufacturer, diluted one to four.",
    "The descaling light blinks orange when the cycle is due.",
    "A full descaling cycle takes about 25 minutes and must not be interrupted.",
    "The grinder has twelve settings; turn the dial clockwise for a finer grind.",
    "Adjust the grind only while the grinder is running to avoid damaging it.",
    "Oily or caramelised beans can clog the grinder and void the warranty.",
    "The bean container keeps 250 grams of coffee beans fresh under its airtight lid.",
    "The milk frother heats milk to 65 degrees and turns off automatically.",
    "Rinse the steam wand right after frothing so that milk residue does not dry on it.",
    "Skimmed milk produces the firmest foam, whole milk the creamiest.",
    "Plant-based drinks labelled 'barista' froth better than regular ones.",
    "If no coffee comes out, check that the drip tray and grounds container are inserted.",
    "A red flashing light means the grounds container is full and must be emptied.",
    "Weak coffee usually means the grind is too coarse or too little coffee was used.",
    "Water leaking under the machine often comes from an overfilled drip tray.",
    "The appliance is covered by a two-year warranty from the date of purchase.",
    "Keep your receipt: it is required for any repair under warranty.",
    "Damage caused by limescale is not covered if the machine was never descaled.",
    "Repairs must be carried out by an authorised service centre.",
]
MANUAL_QUESTIONS = [
    ("How much water fits in the reservoir?", 1),
    ("Can I use fizzy water?", 2),
    ("Does the device turn off on its own?", 3),
    ("How often should I remove limescale?", 4),
    ("How long does cleaning the calcium deposits take?", 7),
    ("How do I make the coffee powder finer?", 8),
    ("Which beans may block the mill?", 10),
    ("How hot does the foamer make the milk?", 12),
    ("What gives the thickest foam?", 14),
    ("Why is nothing coming out of the spout?", 16),
    ("What does the blinking red lamp mean?", 17),
    ("Why does my espresso taste watery?", 18),
    ("Why is there a puddle beneath the unit?", 19),
    ("How long is the guarantee?", 20),
    ("Who is allowed to fix the machine?", 23),
]
TENANT = [
    "The monthly rent of 1,150 euros is due on the first working day of each month.",
    "Payments arriving more than ten days late incur a fee of 25 euros.",
    "Rent is raised once a year in July in line with the consumer price index.",
    "Service charges for the stairwell lighting and the lift are included in the rent.",
    "A security deposit equal to two months' rent is paid before the keys are handed over.",
    "The deposit is returned within eight weeks after the tenant moves out, minus the cost of "
    "any damage.",
    "Normal wear and tear, such as faded paint, is not deducted from the deposit.",
    "Interest on the deposit is not paid to the tenant.",
    "Report leaks, broken heating or faulty wiring to the building manager at once.",
    "Small repairs such as replacing light bulbs or tap washers are the tenant's responsibility.",
    "The landlord arranges and pays for repairs to the roof, the facade and the central heating.",
    "In an emergency outside office hours, call the 24-hour service number on the notice board.",
    "Quiet hours apply from 22:00 to 07:00 on weekdays and until 09:00 at weekends.",
    "Cats and small dogs are welcome; other animals need written permission.",
    "Barbecues with charcoal are not allowed on the balconies because of the fire risk.",
    "Bicycles belong in the basement storage, not in the corridors.",
    "Paper, glass and plastic are collected separately from the containers in the courtyard.",
    "Bulky waste such as old furniture is picked up on the last Friday of the month after "
    "registration.",
    "Each flat has its own electricity meter; the tenant signs a contract with a supplier of "
    "their choice.",
    "Radiator valves should not be closed completely in winter to prevent frozen pipes.",
    "The lease can be terminated by the tenant with three months' notice to the end of any month.",
    "Notice must be given in writing and signed by all tenants named in the lease.",
    "On leaving, the flat must be cleaned and holes in the walls filled.",
    "A joint inspection with the building manager takes place on the day the keys are returned.",
]
TENANT_QUESTIONS = [
    ("When do I have to transfer the money for my apartment?", 0),
    ("What is the penalty if I pay after the deadline?", 1),
    ("How often does my rent go up?", 2),
    ("Do I pay separately for the elevator?", 3),
    ("How much do I have to put down as a guarantee before moving in?", 4),
    ("When do I get my guarantee money back?", 5),
    ("Will they keep part of my deposit because the walls look a bit worn?", 6),
    ("Who fixes a dripping faucet?", 9),
    ("Who pays when the roof needs repairing?", 10),
    ("What do I do if the heating breaks down in the middle of the night?", 11),
    ("Until what time must I be quiet in the evening?", 12),
    ("Am I allowed to keep a pet?", 13),
    ("Can I grill on my balcony?", 14),
    ("How do I get rid of an old sofa?", 17),
    ("Can I choose my own power company?", 18),
    ("How long before I leave do I need to cancel the contract?", 20),
    ("What condition should the flat be in when I move out?", 22),
]
SETS = {
    "handbook": (HANDBOOK, HANDBOOK_QUESTIONS),
    "manual": (MANUAL, MANUAL_QUESTIONS),
    "tenant": (TENANT, TENANT_QUESTIONS),
}


def segments(sentences: list[str], size: int = 4) -> list[str]:
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]


async def mean_reciprocal_rank(
    reranker: Reranker, passages: Sequence[str], questions: list[tuple[str, int]]
) -> float:
    ranks = []
    for question, answer in questions:
        order = [i for i, _ in await reranker.rerank(question, passages, top_n=len(passages))]
        ranks.append(1 / (order.index(answer) + 1))
    return float(np.mean(ranks))


def ledger_questions(seed: int) -> tuple[list[str], list[tuple[str, int]]]:
    """Paragraphs of one generated document: they all look alike (same vocabulary, same
    sentence patterns), and each page's paragraph has one exact fact to ask about."""
    paragraphs = [
        text for page in pdfgen.sample_document(5, seed) for kind, text in page if kind == "p"
    ]
    questions = []
    for i, paragraph in enumerate(paragraphs):
        fact = re.search(r"the ledger of (\w+) records exactly (\d+) deliveries", paragraph)
        if fact:
            place, count = fact.groups()
            questions += [
                (f"How many deliveries were recorded in the {place} ledger, {count}?", i),
                (f"What number of deliveries, {count}, is listed in the ledger of {place}?", i),
                (f"{place} ledger {count} deliveries", i),
            ]
    return paragraphs, questions


# ---------------------------------------------------------------------------------------------
# local re-ranker: quality


@pytest.mark.parametrize("name", list(SETS))
async def test_local_reranker_is_at_least_as_good_as_cosine_on_paraphrased_questions(name):
    sentences, questions = SETS[name]
    by_segment = [(q, i // 4) for q, i in questions]
    hybrid = await mean_reciprocal_rank(HYBRID, segments(sentences), by_segment)
    cosine = await mean_reciprocal_rank(COSINE_ONLY, segments(sentences), by_segment)
    # Measured: handbook 0.938 → 0.961, manual 0.800 → 0.878, tenant (held out) 0.941 → 0.941.
    assert hybrid >= cosine, (hybrid, cosine)
    assert hybrid >= 0.87
    # Single-sentence passages: no averaging to undo, so no real gain, but no loss either.
    # Measured: handbook 0.852 → 0.848, manual 0.693 → 0.694, tenant 0.720 → 0.749.
    hybrid_s = await mean_reciprocal_rank(HYBRID, sentences, questions)
    cosine_s = await mean_reciprocal_rank(COSINE_ONLY, sentences, questions)
    assert hybrid_s >= cosine_s - 0.01, (hybrid_s, cosine_s)


async def test_local_reranker_improves_on_cosine_where_segments_blur_the_answer():
    """Over the two sets the weights were chosen on, the gain over cosine is clear."""
    gains = []
    for name in ("handbook", "manual"):
        sentences, questions = SETS[name]
        by_segment = [(q, i // 4) for q, i in questions]
        gains.append(
            await mean_reciprocal_rank(HYBRID, segments(sentences), by_segment)
            - await mean_reciprocal_rank(COSINE_ONLY, segments(sentences), by_segment)
        )
    assert min(gains) > 0.015 and sum(gains) > 0.08, gains


@pytest.mark.parametrize("seed", [7, 51, 52])
async def test_local_reranker_finds_the_exact_fact_among_look_alike_segments(seed):
    """Averaged word vectors barely tell these paragraphs apart (cosine alone: MRR 0.57-0.68);
    the names and numbers in the question do."""
    paragraphs, questions = ledger_questions(seed)
    assert len(questions) >= 12
    hybrid = await mean_reciprocal_rank(HYBRID, paragraphs, questions)
    cosine = await mean_reciprocal_rank(COSINE_ONLY, paragraphs, questions)
    assert hybrid >= 0.9 and hybrid > cosine + 0.2, (hybrid, cosine)


SURFACE_DISTRACTORS = [
    # (question, passages, index of the answer); the distractors share the question's words.
    (
        "What should I do if I can't remember my login credentials?",
        [
            "Login credentials for the guest Wi-Fi are printed on the reception desk.",
            "Remember to lock your screen whenever you leave your desk.",
            "To reset a forgotten password, open the sign-in page and follow the link sent to "
            "your e-mail.",
            "Credentials for the test servers are rotated every month; do not remember them, "
            "use the vault.",
        ],
        2,
    ),
    (
        "How long can a mother or father stay home after a baby arrives?",
        [
            "Staff who work from home must stay reachable by phone between 10:00 and 15:00.",
            "The baby changing room on the second floor is open to visitors.",
            "Parental leave of up to 16 weeks is granted to every parent after the birth or "
            "adoption of a child.",
        ],
        2,
    ),
]


@pytest.mark.parametrize(("question", "passages", "answer"), SURFACE_DISTRACTORS)
async def test_an_answer_in_other_words_beats_passages_that_only_share_words(
    question, passages, answer
):
    ranked = await HYBRID.rerank(question, passages, top_n=len(passages))
    assert ranked[0][0] == answer, ranked
    # The test has teeth: by shared words alone a distractor would win.
    stems = [Counter(Analysed.of(p).stems) for p in passages]
    lexical = bm25_scores(Analysed.of(question).stems, stems)
    assert int(np.argmax(lexical)) != answer


ECHOING_DISTRACTORS = [
    (
        "How many vacation days do I get each year?",
        [
            "The vacation rental by the lake can be booked by staff for up to seven days.",
            "Each year the company picnic is held on the first Saturday of June; spouses get a "
            "free ticket.",
            "Employees accrue 25 days of paid annual leave per calendar year.",
            "Snow days do not count as vacation, and the office stays open.",
        ],
        2,
    ),
    (
        "Where do guests leave their cars?",
        [
            "Guests receive a day pass and leave it at reception on their way out.",
            "Company cars are leased for four years and leave the fleet afterwards.",
            "Visitors must park on the street or in the public garage across the road.",
        ],
        2,
    ),
    (
        "Do I get paid extra for working late?",
        [
            "Late payment of invoices costs the company extra interest.",
            "Working students get paid on the 15th of each month.",
            "Overtime is compensated with time off in lieu rather than additional salary.",
        ],
        2,
    ),
]


@pytest.mark.xfail(
    strict=True,
    reason="known limit: when distractors repeat most of the question's own words, the "
    "averaged word vectors (and even all-MiniLM-L6-v2's cosine) prefer them to an answer "
    "with no word in common; only a cross-encoder (e.g. rerank_provider=cohere) tells them apart",
)
async def test_known_limit_distractors_that_echo_the_question():
    wins = [
        (await HYBRID.rerank(q, ps, top_n=1))[0][0] == answer
        for q, ps, answer in ECHOING_DISTRACTORS
    ]
    assert any(wins)


# ---------------------------------------------------------------------------------------------
# local re-ranker: contract


async def test_local_reranker_contract():
    passages = segments(HANDBOOK)
    ranked = await HYBRID.rerank("Where can I put my bike?", passages, top_n=3)
    assert len(ranked) == 3
    assert ranked[0][0] == 8  # parking and bicycles
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert all(isinstance(i, int) and isinstance(s, float) for i, s in ranked)
    # Deterministic, and top_n larger than the candidates just returns them all.
    again = await HYBRID.rerank("Where can I put my bike?", passages, top_n=3)
    assert again == ranked
    everything = await HYBRID.rerank("Where can I put my bike?", passages, top_n=100)
    assert sorted(i for i, _ in everything) == list(range(len(passages)))
    assert everything[:3] == ranked


async def test_local_reranker_edge_cases():
    assert await HYBRID.rerank("anything", [], top_n=5) == []
    ranked = await HYBRID.rerank("bike shed", ["", "Bicycles go in the shed.", "   "], top_n=3)
    assert ranked[0][0] == 1  # blank passages are ranked, last, rather than failing the search
    unweighted = LocalReranker(EMBEDDER, weights={"cosine": 0.0})
    assert await unweighted.rerank("bike shed", ["Bicycles.", "Cars."], top_n=2) == [
        (0, 0.0),
        (1, 0.0),
    ]
    with pytest.raises(InvalidInput, match="query is empty"):
        await HYBRID.rerank("  ", ["a passage"], top_n=1)
    with pytest.raises(InvalidInput, match="top_n"):
        await HYBRID.rerank("query", ["a passage"], top_n=0)
    with pytest.raises(InvalidInput, match="not one string"):
        await HYBRID.rerank("query", "a passage", top_n=1)  # type: ignore[arg-type]


async def test_full_text_scores_rank_passages_the_rest_cannot_tell_apart():
    same = ["Bicycles go in the shed behind the canteen."] * 3
    question = "Where can I put my bike?"
    # Without them, equal passages score the same (to the last bits of a matrix product);
    # with them, the larger share of the question's full-text bound comes first.
    alike = [s for _, s in await HYBRID.rerank(question, same, top_n=3)]
    assert alike == pytest.approx([alike[0]] * 3, abs=1e-6)
    by_words = await HYBRID.rerank(question, same, top_n=3, lexical=[0.0, 0.75, 0.2])
    assert [i for i, _ in by_words] == [1, 2, 0]
    weight = CORPUS_WEIGHTS["corpus_bm25"] / sum(CORPUS_WEIGHTS.values())
    gaps = [s - by_words[-1][1] for _, s in by_words]
    assert gaps == pytest.approx([0.75 * weight, 0.2 * weight, 0.0], abs=1e-6)
    # None found by full text: no passage gains on another.
    nothing = [s for _, s in await HYBRID.rerank(question, same, top_n=3, lexical=[0.0] * 3)]
    assert nothing == pytest.approx([nothing[0]] * 3, abs=1e-6)


async def test_full_text_scores_are_checked():
    passages = ["Bicycles go in the shed.", "Cars park outside."]
    for lexical, message in (
        ([1.0], "1 scores for 2 passages"),
        ([1.0, 0.5, 0.2], "3 scores for 2 passages"),
        ([1.0, -0.5], "from 0 to 1"),
        ([1.5, 0.5], "from 0 to 1"),
        ([1.0, float("nan")], "from 0 to 1"),
    ):
        with pytest.raises(InvalidInput, match=message):
            await HYBRID.rerank("bike", passages, top_n=2, lexical=lexical)
    assert await HYBRID.rerank("bike", [], top_n=2, lexical=[]) == []


class _CountingEmbedder(LocalEmbedder):
    """The local embedder, keeping the passages it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += texts
        return await super().embed_documents(texts)


class _Stored:
    """Stored vectors of some passages, as the first stage hands them over."""

    def __init__(self, model: str, vectors: dict[int, list[float]]) -> None:
        self.model = model
        self.vectors = vectors
        self.asked: list[int] = []

    async def __call__(self, indices: Sequence[int]) -> dict[int, list[float]]:
        self.asked += indices
        return {i: self.vectors[i] for i in indices if i in self.vectors}

    async def encodings(self, encoder: str, indices: Sequence[int]) -> dict[int, np.ndarray]:
        return {}


async def test_stored_vectors_of_the_same_model_are_read_not_embedded_again():
    passages = segments(HANDBOOK)
    question = "Where can I put my bike?"
    expected = await HYBRID.rerank(question, passages, top_n=len(passages))
    vectors = await EMBEDDER.embed_documents(passages)

    embedder = _CountingEmbedder()
    reranker = LocalReranker(embedder)
    stored = _Stored(EMBEDDER.model, {i: v for i, v in enumerate(vectors) if i % 2 == 0})
    ranked = await reranker.rerank(question, passages, top_n=len(passages), stored=stored)
    assert ranked == expected  # the same vectors: the same order and scores
    assert sorted(stored.asked) == list(range(len(passages)))
    odd = [p for i, p in enumerate(passages) if i % 2]
    assert [t for t in embedder.embedded if t in passages] == odd  # only those not stored

    # Seen once, a passage is remembered: the next question asks for none of them.
    stored.asked.clear()
    embedder.embedded.clear()
    again = await reranker.rerank("Who cleans the kitchen?", passages, top_n=3, stored=stored)
    assert len(again) == 3
    assert stored.asked == []
    assert not set(embedder.embedded) & set(passages)


async def test_stored_vectors_of_another_model_are_ignored():
    passages = segments(HANDBOOK)
    question = "Where can I put my bike?"
    embedder = _CountingEmbedder()
    stored = _Stored("openai:text-embedding-3-small", {0: [1.0] + [0.0] * 255})
    ranked = await LocalReranker(embedder).rerank(question, passages, top_n=3, stored=stored)
    assert ranked == await HYBRID.rerank(question, passages, top_n=3)
    assert stored.asked == []
    assert [t for t in embedder.embedded if t in passages] == passages


def test_stemming_is_light():
    assert [stem(w) for w in ["deliveries", "recorded", "records", "stopped", "running"]] == [
        "delivery",
        "record",
        "record",
        "stop",
        "run",
    ]
    assert [stem(w) for w in ["bus", "analysis", "class", "1987", "tax"]] == [
        "bus",
        "analysis",
        "class",
        "1987",
        "tax",
    ]


async def test_local_reranker_speed_on_100_segments():
    passages = pdfgen.sample_passages(100, first_seed=1)
    query = "How many deliveries were recorded in the Nortorpen ledger?"
    await HYBRID.rerank(query, passages, top_n=10)  # warm: model loaded, words cached
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        await HYBRID.rerank(query, passages, top_n=10)
        timings.append(time.perf_counter() - started)
    # ~55 ms on a 2-vCPU machine; the bound leaves room for a loaded CI runner.
    assert min(timings) < 0.3, timings


# ---------------------------------------------------------------------------------------------
# cohere re-ranker, against the fake server


@pytest.fixture
def apis() -> Iterator[FakeAPIs]:
    with FakeAPIs() as server:
        yield server


@pytest.fixture
async def cohere(apis: FakeAPIs) -> AsyncIterator[CohereReranker]:
    reranker = CohereReranker(api_key=API_KEY, base_url=apis.url, retry=FAST)
    yield reranker
    await reranker.aclose()


async def test_cohere_rerank_sends_the_v2_request_and_maps_the_answer(apis, cohere):
    passages = ["the shed is for bicycles", "lunch is served at noon", "bicycles and the shed"]
    ranked = await cohere.rerank("bicycles shed", passages, top_n=2)
    (call,) = apis.calls("/v2/rerank")
    assert call.body == {
        "model": "rerank-english-v3.0",
        "query": "bicycles shed",
        "documents": passages,
        "top_n": 2,
    }
    assert call.headers["authorization"] == f"Bearer {API_KEY}"
    assert ranked == [(0, 2 / 2), (2, 2 / 2)]
    assert cohere.name == "cohere:rerank-english-v3.0"
    assert await cohere.rerank("anything", [], top_n=3) == []
    assert len(apis.calls("/v2/rerank")) == 1  # nothing to rank, nothing sent


async def test_cohere_rerank_retries_then_fails_clearly(apis, cohere):
    apis.fail("/v2/rerank", 429)
    assert len(await cohere.rerank("q", ["q"], top_n=1)) == 1
    assert len(apis.calls("/v2/rerank")) == 2

    apis.fail_always("/v2/rerank", 502)
    with pytest.raises(TransientError, match="cohere rerank failed with HTTP 502"):
        await cohere.rerank("q", ["q"], top_n=1)
    assert len(apis.calls("/v2/rerank")) == 2 + FAST.attempts


async def test_cohere_rerank_bad_key(apis):
    reranker = CohereReranker(api_key="wrong", base_url=apis.url, retry=FAST)
    try:
        with pytest.raises(ProviderError, match="HTTP 401"):
            await reranker.rerank("q", ["q"], top_n=1)
    finally:
        await reranker.aclose()
    assert len(apis.calls("/v2/rerank")) == 1


# ---------------------------------------------------------------------------------------------
# local re-ranker: the encoder's cosine, from stored encodings

ENCODER = load_encoder(Settings())


class _Encoded(_Stored):
    """Stored encodings of some passages, as the encode agent left them."""

    def __init__(self, encodings: dict[int, np.ndarray]) -> None:
        super().__init__(EMBEDDER.model, {})
        self.stored = encodings
        self.encoder_asked: list[str] = []

    async def encodings(self, encoder: str, indices: Sequence[int]) -> dict[int, np.ndarray]:
        self.encoder_asked.append(encoder)
        return {i: self.stored[i] for i in indices if i in self.stored}


async def test_stored_encodings_add_the_encoders_cosine():
    assert ENCODER is not None
    passages = ["", *segments(HANDBOOK)]  # a blank one needs no encoding
    question = "Where can I put my bike?"
    lexical = [0.0, *[0.1 * (i % 3) for i in range(len(passages) - 1)]]
    encodings = ENCODER.encode(passages)
    stored = _Encoded(dict(enumerate(encodings)))
    reranker = LocalReranker(EMBEDDER, encoder=ENCODER)
    assert reranker.name.endswith("+all-minilm-l6-v2-q")

    ranked = await reranker.rerank(question, passages, top_n=3, stored=stored, lexical=lexical)
    assert stored.encoder_asked == [ENCODER.name]
    # The other features weighed as ENCODER_WEIGHTS say, and the encoder's cosine.
    rest = {k: v for k, v in ENCODER_WEIGHTS.items() if k != "encoder"}
    others = dict(
        await LocalReranker(EMBEDDER, corpus_weights=rest).rerank(
            question, passages, top_n=len(passages), lexical=lexical
        )
    )
    cosine = encodings @ ENCODER.encode([question])[0]
    total = sum(ENCODER_WEIGHTS.values())
    for i, score in ranked:
        expected = (sum(rest.values()) * others[i] + ENCODER_WEIGHTS["encoder"] * cosine[i]) / total
        assert score == pytest.approx(expected, abs=1e-5)
    assert ranked[0][0] == 9  # parking and bicycles (after the blank one)


async def test_without_every_candidates_encoding_the_encoder_stays_out():
    """A document still being encoded: scores with and without the encoder would not compare."""
    assert ENCODER is not None
    passages = segments(HANDBOOK)
    question = "Where can I put my bike?"
    lexical = [0.5] * len(passages)
    reranker = LocalReranker(EMBEDDER, encoder=ENCODER)
    expected = await HYBRID.rerank(question, passages, top_n=4, lexical=lexical)
    some = _Encoded(dict(enumerate(ENCODER.encode(passages[:-1]))))
    assert await reranker.rerank(question, passages, top_n=4, stored=some, lexical=lexical) == (
        expected
    )
    everything = _Encoded(dict(enumerate(ENCODER.encode(passages))))
    # Not for a question in Chinese (the encoder reads English), nor without full text's scores
    # (the weights were fitted with them), nor without a store.
    for query, scores, store in (
        ("自行车停在哪里？", lexical, everything),
        (question, None, everything),
        (question, lexical, None),
    ):
        alone = await HYBRID.rerank(query, passages, top_n=4, lexical=scores)
        got = await reranker.rerank(query, passages, top_n=4, stored=store, lexical=scores)
        assert got == alone
    assert everything.encoder_asked == []


# ---------------------------------------------------------------------------------------------
# create_reranker


async def test_create_reranker_picks_by_settings(apis):
    local = create_reranker(Settings())
    assert isinstance(local, LocalReranker) and isinstance(local, Reranker)
    assert local.name == "local-hybrid:local:wordllama-l2_supercat-256+all-minilm-l6-v2-q"
    assert local.encoder is load_encoder(Settings())
    plain = create_reranker(Settings(rerank_encoder=False))
    assert isinstance(plain, LocalReranker) and plain.encoder is None
    assert plain.name == "local-hybrid:local:wordllama-l2_supercat-256"

    class Spy:
        model, dimension = "spy:model", 256

        async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
            return [[1.0] + [0.0] * 255 for _ in texts]

        async def embed_query(self, text: str) -> list[float]:
            return [1.0] + [0.0] * 255

        async def aclose(self) -> None:
            pass

    spy: Embedder = Spy()
    given = create_reranker(Settings(), spy)
    assert isinstance(given, LocalReranker) and given.embedder is spy

    cohere = create_reranker(
        Settings(
            rerank_provider="cohere",
            cohere_api_key=API_KEY,
            cohere_base_url=apis.url,
            rerank_model="rerank-v3.5",
        )
    )
    try:
        assert isinstance(cohere, CohereReranker) and cohere.name == "cohere:rerank-v3.5"
        await cohere.rerank("q", ["q"], top_n=1)
        assert apis.calls("/v2/rerank")[0].body["model"] == "rerank-v3.5"
    finally:
        await cohere.aclose()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rerank_provider": "cohere"}, "PDFCHAT_COHERE_API_KEY"),
        ({"rerank_model": "rerank-v3.5"}, "rerank_provider=cohere only"),
    ],
)
def test_create_reranker_refuses_an_unusable_setup(overrides, message):
    with pytest.raises(InvalidInput, match=message):
        create_reranker(Settings(**overrides))


async def test_a_passage_with_the_option_asked_about_gains_on_the_rest():
    """Word vectors and stems read "-I" as the letter i: a passage that has the option the
    question names gets OPTION_BONUS for it, case and hyphens counting ("-i" is another)."""
    passages = [
        "The -i option adds a path to TEXINPUTS.",
        "The -I option adds a path where figures are looked up.",
        "A path to TEXINPUTS is added with --texinputs.",
    ]
    question = "What does the -I option do?"
    assert options(question) == {"-I"}
    assert options("non-interactive x-y plots, pages 5-10, -i and --fig-path=x") == {
        "-i",
        "--fig-path",
    }
    plain = dict(await HYBRID.rerank("What does the option do?", passages, top_n=3))
    asked = dict(await HYBRID.rerank(question, passages, top_n=3))
    gains = [asked[i] - plain[i] for i in range(3)]
    assert gains[1] - gains[0] == pytest.approx(OPTION_BONUS, abs=0.05), gains
    assert max(asked, key=asked.__getitem__) == 1
