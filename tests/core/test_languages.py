from __future__ import annotations

import pytest

from core import languages


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Comment bloquer un paquet avec synaptic ?", "fr"),
        ("Sur combien d'architectures Debian fonctionne-t-elle ?", "fr"),
        # "apt-cacher" is a name, not the French verb "cacher".
        ("Auf welchem Port lauscht apt-cacher standardmäßig?", "de"),
        ("¿Qué devuelve /dev/zero cuando se lee?", "es"),
        ("Come posso cambiare la password della mia chiave SSH?", "it"),
        ("Como posso mudar a senha da minha chave SSH?", "pt"),
        ("Hoe verander ik het wachtwoord van mijn SSH-sleutel?", "nl"),
        ("数据库的最大连接数是多少？", "zh"),
        # Cyrillic is Russian or Ukrainian, by its words; "Debian" is a Spanish word too.
        ("Кто возглавлял Debian в 2010 году?", "ru"),
        ("Как произносится Debian?", "ru"),
        ("Хто очолював Debian у 2010 році?", "uk"),
        # Another script is none of them, whatever Latin names the question holds.
        ("Τι είναι το Debian;", None),
        ("ما هو Debian؟", None),
        # English, however short or full of names.
        ("What is lilypond?", None),
        ("Is GNU Make in Debian?", None),
        ("How do I stop apt from upgrading a particular package?", None),
        ("Can Traits UI views be displayed with the Qt toolkit instead of wxPython?", None),
        ("", None),
        ("?!", None),
    ],
)
def test_the_language_of_a_question(question: str, language: str | None) -> None:
    assert languages.language(question) == language


def test_function_words_are_a_languages_own_and_never_numbers() -> None:
    french = languages.function_words("fr")
    assert {"de", "la", "les", "combien", "comment"} <= french
    assert "paquet" not in french
    assert {"und", "der", "welche", "warum"} <= languages.function_words("de")
    assert languages.function_words(None) == frozenset()  # English has retrieval.STOPWORDS
    assert languages.function_words("zh") == frozenset()
    assert {"как", "сколько", "в"} <= languages.function_words("ru")
    assert {"як", "скільки"} <= languages.function_words("uk")
    assert not any(
        w.isdigit() for lang in languages.WORD_LANGUAGES for w in languages.function_words(lang)
    )


@pytest.mark.parametrize(
    ("word", "language", "known"),
    [
        ("débarrasser", "fr", True),
        ("téléchargées", "fr", True),  # a form of "télécharger"
        ("paketarchiven", "de", True),  # "Paket" and "Archiven"
        ("fehlerbericht", "de", True),
        ("m68k", "fr", False),
        ("dpkg", "de", False),
        ("gnuplot", "fr", False),
    ],
)
def test_a_language_knows_its_words_their_forms_and_compounds(
    word: str, language: str, known: bool
) -> None:
    assert languages.knows(word, language) is known
