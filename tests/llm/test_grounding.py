"""The grounding checks of the local model (llm/grounding.py): names, codes, quantities."""

from __future__ import annotations

import pytest

from llm import grounding
from llm.prompt import Evidence


def test_asking_for_a_way_is_not_asking_for_a_quantity() -> None:
    assert grounding.asks_quantity("How many days of leave do I get?")
    assert grounding.asks_quantity("What is the maximum file size?")
    assert not grounding.asks_quantity("How do I count how many values fall in each bin?")
    assert not grounding.asks_quantity("Who approves leave requests?")
    assert not grounding.asks_quantity("What paper size should I use for APS journals?")
    assert grounding.asks_quantity("What page size does Berkeley DB use by default?")


def test_asking_how_a_thing_is_written_is_not_asking_for_a_quantity() -> None:
    """ "Version number" is the thing whose format is asked, not a number asked for."""
    assert not grounding.asks_quantity("What is the format of a Debian package version number?")
    assert not grounding.asks_quantity("What format does the date field use?")
    assert not grounding.asks_quantity("What is the name of the 2005 release?")
    assert grounding.asks_quantity("What version of Python is needed?")
    assert grounding.asks_quantity("What is the date of the release?")


def test_a_year_is_named_and_had_by_a_passage_that_says_it_or_spans_it() -> None:
    assert grounding.names("Who led Debian in 2025?") == ["Debian", "2025"]
    assert grounding.names("Кто возглавлял Debian в 2010 году?") == ["Debian", "2010"]
    assert grounding.names("Does it cost 2,000 euros at 10:2000?") == []  # no years
    leaders = Evidence(
        "s", "d", 8, "Martin led it from March 2003 until March 2005. Anne led it from 2005.", 0.5
    )
    assert grounding.missing(["2003"], leaders) == []
    assert grounding.missing(["2004"], leaders) == []  # within a sentence's years
    assert grounding.missing(["2006"], leaders) == ["2006"]  # after every sentence's
    assert grounding.missing(["2025"], leaders) == ["2025"]


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("GNU", "the gnuplot manual", False),  # a word is not the start of another word
        ("MD5", "compare them with md5sum", True),  # a code with digits may be
        ("Traits UI", "the TraitsUI package", True),
        ("MKC_DEPS", "set MKC DEPS to the list", True),  # PDFs lose underscores
        ("arm64", "ports for arm64: the latest devices", True),
        ("Qt", "a wxPython toolkit", False),
        ("-q", "press q to quit", False),  # an option keeps its dash
        ("--quiet", "start it with --quiet to", True),
        ("-p", "gnuplot \u2212p keeps the window", True),  # a typeset minus is a dash
        (".xlsx", "saved as report.xlsx or csv", True),
        ("CPU", "threaded to use all the cpus of a machine", True),
        ("CPU", "one CPU core", True),
        ("$@", "($@) Expands to the positional parameters", True),
        ("$@", "mail me at someone@example.org", False),
        ("$*", "the $$ variable", False),
    ],
)
def test_a_name_is_found_as_a_whole_word_however_it_is_spelt(
    name: str, text: str, found: bool
) -> None:
    evidence = Evidence("s", "d", 1, text, 0.5)
    assert (grounding.missing([name], evidence) == []) is found


@pytest.mark.parametrize(
    ("question", "names", "codes"),
    [
        ("Can Traits UI views use the Qt toolkit?", ["Traits", "UI", "Qt"], []),
        ("In which release did arm64 become official?", ["arm64"], ["arm64"]),
        ("What does the -q / --quiet option do?", ["-q", "--quiet"], ["-q", "--quiet"]),
        ("What does the -K option of dot select?", ["-K"], ["-K"]),  # a capital option too
        ("Can it save an .xlsx workbook for Excel?", [".xlsx", "Excel"], [".xlsx"]),
        ("How does RocksDB compact?", ["RocksDB"], ["RocksDB"]),
        ("What does MKC_DEPS list?", ["MKC_DEPS"], ["MKC_DEPS"]),
        ("How big can a file on exFAT be under macOS?", ["exFAT", "macOS"], ["exFAT", "macOS"]),
        ("Who approves leave requests?", [], []),  # a capital that starts the sentence
        # Where the asker is, and GNU's prefix to its tools, name nothing asked about
        ("I'm in Germany; what decimal sign should I set?", [], []),
        ("We’re in Austria: which decimal sign?", [], []),
        ("How do I detach from a GNU screen session?", [], []),
        ("Is GNU Make in Debian?", ["GNU", "Make", "Debian"], []),
        # Chinese puts no space around a Latin name
        ("星河数据库支持Windows吗？", ["Windows"], []),
        ("如何在arm64上安装？", ["arm64"], ["arm64"]),
        # and writes names in Latin letters in lower case: a rare one names a thing
        ("gpm 支持触摸板手势吗？", ["gpm"], []),
        ("lspci 的 -nn 选项会多显示什么？", ["-nn", "lspci"], ["-nn"]),
        ("shell 脚本怎么写？", [], []),  # a common English word
        # German writes every noun with a capital: only its codes and acronyms name things
        ("Wie erstelle ich ein Debian-Paket aus einem Quellarchiv?", [], []),
        ("Wie baue ich mit CMake ein RPM unter Linux?", ["CMake", "RPM"], ["CMake"]),
        ("Peut-il exporter vers Excel?", ["Excel"], []),  # French capitalises names only
        # A plural acronym is the acronym, no code: "the CPU" and "two cpus" both name it
        ("Can I run fasta searches in parallel on several CPUs?", ["CPU"], []),
        ("Where are the PDFs and URLs kept?", ["PDF", "URL"], []),
        ("Which iOS and NaNs?", ["iOS", "NaNs"], ["iOS", "NaNs"]),
        # A special variable of a shell or of make is a code; money is not
        ("What is the difference between $* and $@?", ["$*", "$@"], ["$*", "$@"]),
        ("What does $? hold after a pipeline?", ["$?"], ["$?"]),
        ("Does it cost $5 or $10?", [], []),
        # A path is a name a passage must have, but no code: the asker's "/var partition" may
        # be where the question comes from, not what the answer says.
        ("Which FHS version removed /var/run?", ["FHS", "/var/run"], []),
        ("Meine /var-Partition läuft voll.", ["/var"], []),
        ("Is it in /usr/lib/x86_64-linux-gnu/ or and/or?", ["/usr/lib/x86_64-linux-gnu"], []),
    ],
)
def test_names_and_codes_as_a_user_types_them(
    question: str, names: list[str], codes: list[str]
) -> None:
    found = grounding.names(question)
    assert found == names
    assert [n for n in found if grounding.is_code(n)] == codes


@pytest.mark.parametrize(
    ("question", "sentence", "answers"),
    [
        ("How many members sit on the committee?", "The committee has seven members.", True),
        ("How many members sit on the committee?", "Four decisions were published.", False),
        ("How many years does a senator serve?", "chosen for six Years;", True),
        ("How many cars fit in the garage?", "It holds four vehicles.", True),  # a like word
        ("How many arguments can a script take?", "followed by up to nine parameters.", True),
        ("How many times can one be elected?", "elected more than twice", True),
        ("What is the default interval?", "rolls back one of the transactions.", False),
        ("What is the default interval?", "13.1 How can I set the interval?", False),
        ("What is the default interval?", "It runs every 30 seconds.", True),
        # Numbers that point elsewhere count nothing.
        ("How much disk space do I need?", "Use a proxy (see Section 6.5).", False),
        ("How much disk space do I need?", "As described in apt.conf(5) and [12].", False),
        ("How much disk space do I need?", "See https://example.org/2024/guide.", False),
        ("How much disk space do I need?", "About 30 GB (see Section 6.5).", True),
        ("How many lines does it keep?", "Table 3 shows that it keeps 500 lines.", True),
        # Chinese: digits or numerals
        ("集群至少需要几个存储节点？", "一个集群至少需要三个存储节点。", True),
        ("默认端口是多少？", "默认端口为 7788。", True),
        ("备份文件保留多久？", "备份文件由后台任务自动删除。", False),
        ("find 命令最多能嵌套几层括号？", "就像bash(1)。", False),  # a manual's section
        ("关机以后电源键要按几秒？", "你可能需要在关机之后按电源键几秒钟。", True),  # a few
        # the counted thing, in the same sentence
        ("协调节点需要多少内存？", "每台存储节点至少需要 16 GB 内存。", True),
        ("协调节点需要多少内存？", "时钟偏差超过 500 毫秒时，协调节点会拒绝写入。", False),
        ("数据库最多能创建多少张表？", "最大客户端连接数的默认值为 500。", False),
        ("默认的系统有几个虚拟控制台？", "有 6 个可切换的字符控制台。", True),
        ("瘦客户端最少需要多少内存？", "瘦客户端能够仅有256 MiB RAM。", True),  # in its unit
        ("equivs 是哪一年加入 Debian 的？", "2016 年发行的 Debian Edu 8。", True),
    ],
)
def test_a_quantity_is_answered_by_its_number(question: str, sentence: str, answers: bool) -> None:
    assert grounding.asks_quantity(question)
    assert grounding.has_number(sentence, grounding.counted(question)) is answers


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("What page size does Berkeley DB use by default?", True),
        ("What is the default interval for deadlock detection?", True),
        ("In what unit is the frame delay given, and what is its default?", True),
        ("Which packages get installed in a default installation?", False),  # not the value
        ("Where is the system-wide default paper size stored?", False),  # a place
        ("How do I restore the default settings?", False),  # a way
        ("What page size gave the best performance?", False),
        ("XML 文件默认使用什么压缩格式？", True),
        ("怎么修改默认端口？", False),  # a way
        ("默认的配置文件在哪里？", False),  # a place
        ("wodim のデフォルトの書き込み速度はいくつですか？", True),
    ],
)
def test_asking_for_a_default(question: str, asks: bool) -> None:
    assert grounding.asks_default(question) is asks


def test_a_default_is_stated_in_so_many_words() -> None:
    assert grounding.states_default("The default gap width of 2 leaves two boxes.")
    assert grounding.states_default("Page sizes default to 4096 bytes.")
    assert grounding.states_default("Initially the window is 640 by 480.")
    assert not grounding.states_default("If no bucket is found, an insertion fails.")
    assert not grounding.states_default("Page sizes range from 512 bytes to 64 KB.")
    assert grounding.states_default("在默认的Debian 系统中，有6 个可切换的字符控制台。")
    assert grounding.states_default("缺省的DNS 服务器仅用内部域设置。")
    assert not grounding.states_default("你可以切换到控制台3。")


@pytest.mark.parametrize(
    ("question", "sentence", "answers"),
    [
        ("How much does a commercial licence cost?", "Version 2.1 was released in 1997.", False),
        ("How much does a commercial licence cost?", "A licence costs $1,500 a year.", True),
        ("How much does the reader cost?", "The reader is free for personal use.", True),
        ("How much faster is it than Autotools?", "Only about 4000 lines of code.", False),
        ("How much faster is it than Autotools?", "It configures 5 times faster.", True),
        ("How much faster was the new package?", "on the order of 50-80% for the workloads", True),
        ("How many members sit on the committee?", "The committee has 7 members.", True),
        ("升级一个节点大概需要多长时间？", "一次只升级一个存储节点。", False),
        ("ssh-agent はパスフレーズを何分間覚えていますか？", "^D を 1 回押します。", False),
        ("再起動には何分かかりますか？", "通常 5 分で終わります。", True),
        ("升级一个节点大概需要多长时间？", "通常需要两到三个小时。", True),
        ("增量备份多久做一次？", "增量备份建议每天执行一次。", True),  # how often
    ],
)
def test_a_question_that_names_the_kind_of_number_wants_that_kind(
    question: str, sentence: str, answers: bool
) -> None:
    kind = grounding.number_kind(question)
    assert grounding.has_kind(sentence, kind) is answers


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("What's the maximum number of frames an animated GIF can contain?", True),
        ("Is there a maximum number of named data blocks in one session?", True),
        ("What is the largest single database Berkeley DB can manage?", True),
        ("What is the minimum age to serve as a congressman?", True),
        ("How does the nbawk Makefile insist on a minimum mk-configure release?", False),  # a way
        ("What page size does Berkeley DB use by default?", False),
        # A function, not a limit: the superlative says what it gives.
        ("Which MathProg function gives the smallest integer not less than x?", False),
        ("Which is the lowest priority?", True),
        ("What size is the largest page?", True),  # a kind of number
        ("虚拟控制台最多可以开多少个？", True),
        ("集群里最少要部署几台存储节点？", True),
        ("哪个参数限制最大连接数？", False),  # a thing
        ("如何设置最大连接数？", False),  # a way
        ("仮想コンソールは最大いくつまで作れますか？", True),
        ("どのオプションで最大サイズを決めますか？", False),  # a thing
    ],
)
def test_asking_for_a_limit(question: str, asks: bool) -> None:
    assert grounding.asks_limit(question) is asks


def test_a_question_for_a_thing_that_gives_the_smallest_asks_for_no_number() -> None:
    assert not grounding.asks_quantity("Which function gives the smallest integer above x?")
    assert grounding.asks_quantity("Which is the smallest integer above x?")
    assert grounding.asks_quantity("What is the largest file I can store?")


@pytest.mark.parametrize(
    ("sentence", "states"),
    [
        ("The name may be followed by up to nine parameters.", True),
        ("Keys are at most 32 bytes long.", True),
        ("A single file must not exceed 4 GiB.", True),
        ("No Person shall be a Representative who shall not have attained to the Age.", True),
        ("The bucket size (and page size for overflow pages) defaults to 256 bytes.", False),
        ("It plots in MIF Frames with the size 15*10 cm.", False),
        ("一个生产集群至少需要三个存储节点。", True),
        ("瘦客户端能够仅有256 MiB RAM。", True),
        ("你也可以使用命令行切换到另一个虚拟控制台，例如切换到控制台3。", False),
    ],
)
def test_a_limit_is_stated_in_so_many_words(sentence: str, states: bool) -> None:
    assert grounding.states_limit(sentence) is states


@pytest.mark.parametrize(
    ("question", "uncommon"),
    [
        ("When will Debian trixie be released?", ["debian", "trixie"]),
        ("Which mk-configure variable turns on compiling Fortran sources?", ["fortran"]),
        ("Who originally wrote dbm?", ["dbm"]),
        # What the asker does not want is not what the question is about.
        ("How do I keep sshd from starting at boot without uninstalling it?", ["sshd"]),
        # Paraphrases use common words: nothing here names a thing.
        ("Who originally wrote the first version, and when did they launch it?", []),
        # Not English: every word would look uncommon, so none is.
        ("Combien de jours de congé puis-je reporter sur l'année suivante ?", []),
        ("Wie kann ich eine Datei löschen?", []),
        ("数据库的最大连接数是多少？", []),
        # A Chinese question's rare words in Latin letters are what it is about.
        ("gpm 支持触摸板手势吗？", ["gpm"]),
        ("shell 脚本怎么把日志写进 systemd 的日志里？", ["systemd"]),
    ],
)
def test_uncommon_words_are_what_a_question_is_about(question: str, uncommon: list[str]) -> None:
    assert grounding.uncommon(question) == uncommon


def test_a_word_said_elsewhere_is_one_other_passages_have_and_the_answer_lacks() -> None:
    answer = Evidence("a", "d", 4, "Levels: 1, the default, drops out-of-range points.", 0.5)
    other = Evidence("b", "d", 9, "It can also have optional buttons (e.g. Undo, OK).", 0.4)
    titled = Evidence("c", "d", 2, "Press it twice.", 0.4, heading="Undoing an edit")
    assert grounding.said_elsewhere(["undo", "levels"], [answer], [answer, other]) == ["undo"]
    # Said in the answering passage (or its heading, stemmed): nothing is missing.
    assert grounding.said_elsewhere(["undo"], [answer, titled], [answer, other, titled]) == []
    # Said nowhere: not this check's business (a paraphrase's word, or a name: ``missing``).
    assert grounding.said_elsewhere(["theme"], [answer], [answer, other]) == []


LEAVE_ZH = [
    Evidence("a", "d", 1, "员工累计工作满一年不满十年的，每年享受带薪年假五天。", 0.5),
    Evidence("b", "d", 2, "病假期间，公司按照基本工资的百分之八十发放工资。", 0.4),
    Evidence("c", "d", 3, "数据库允许的最大客户端连接数由参数 max_connections 控制。", 0.3),
    Evidence("e", "d", 4, "协调节点会拒绝写入请求。LTSP 服务器要为客户端提供服务。", 0.3),
]


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("病假一年最多能请多少天？", "病假"),  # not the days of annual leave
        ("最多能同时有多少个客户端连接？", "客户端连接"),  # "最多", "同时" say nothing of it
        ("工作了五年的员工一年有几天年假？", "工作"),
        ("丧假有几天？", None),  # no passage has it
        ("病假期间可以出差吗？", None),  # no quantity
        ("How many days of sick leave?", None),
        # As much of the words as the passages say, up to a verb
        ("协调节点需要多少内存？", "协调节点"),
        ("LTSP 服务器要装几块网卡？", "服务器"),
    ],
)
def test_a_chinese_question_for_a_quantity_is_about_what_it_opens_with(
    question: str, subject: str | None
) -> None:
    assert grounding.subject(question, LEAVE_ZH) == subject


def test_uncommon_loanwords_of_a_japanese_question_are_unknown_words() -> None:
    assert grounding.unknown("gpm はタッチパッドのジェスチャーに対応していますか？") == [
        "タッチパッド"
    ]
    assert grounding.unknown("modules.dep を作り直すコマンドは？") == []  # a common one


def test_unknown_words_are_the_ones_english_does_not_have() -> None:
    assert grounding.unknown("What is the default swappiness on Debian?") == ["swappiness"]
    assert grounding.unknown("Which release shipped usrmerge by default?") == ["usrmerge"]
    assert grounding.unknown("When will Debian trixie be released?") == []  # uncommon, known
    assert grounding.unknown("Wie kann ich eine Datei löschen?") == []  # not English


def test_an_unknown_word_is_unsaid_unless_a_passage_has_it_or_nearly() -> None:
    passage = Evidence("a", "d", 3, "Remove a package with apt purge; merge the lists.", 0.5)
    assert grounding.unsaid(["usrmerge", "purge"], passage) == ["usrmerge"]
    # A typo of a word the passage has is no thing it lacks.
    assert grounding.unsaid(["pakage", "purg"], passage) == []


def test_a_document_is_named_by_an_uncommon_word_of_its_title() -> None:
    bash = Evidence(
        "s1", "doc-bash", 1, "Evaluation is done in integers.", 0.5, title="Bash Reference Manual"
    )
    glpk = Evidence(
        "s2", "doc-glpk", 1, "Rational arithmetic.", 0.6, title="GLPK (GNU Linear Programming Kit)"
    )
    both = [glpk, bash]
    assert grounding.named_documents("Can bash do floating-point arithmetic?", both) == {"doc-bash"}
    assert grounding.named_documents("Does GLPK do exact arithmetic?", both) == {"doc-glpk"}
    # common words of a title name nothing ("reference", "programming"); naming all is no choice
    assert grounding.named_documents("Is there a reference for linear programming?", both) == set()
    assert grounding.named_documents("Does bash call GLPK?", both) == set()
    # One capital letter names a language, in the question and the title alike; "A" is a word.
    intro = Evidence("s5", "doc-r", 14, "…", 0.5, title="An Introduction to R")
    sbcl = Evidence("s6", "doc-sbcl", 89, "…", 0.6, title="SBCL User Manual")
    asked = "What does the c() function do in R?"
    assert grounding.named_documents(asked, [sbcl, intro]) == {"doc-r"}
    assert grounding.named_documents("What is a bug? Is it R's fault?", [sbcl, intro]) == {"doc-r"}
    assert grounding.named_documents("Is a core image a file?", [sbcl, intro]) == set()
    # A manual about the name, titled otherwise, is named by its passages that say it.
    manual = Evidence(
        "s7", "doc-manual", 25, "dblatex -b pdftex file.xml", 0.6, title="DocBook to LaTeX"
    )
    notes = Evidence("s8", "doc-notes", 5, "Fixes.", 0.5, title="Release Notes for dblatex")
    other = Evidence("s9", "doc-other", 2, "A backend.", 0.4, title="SCons User Guide")
    assert grounding.named_documents(
        "Which backend does dblatex use by default?", [manual, notes, other]
    ) == {"doc-manual", "doc-notes"}
    constitution = Evidence(
        "s3", "doc-c", 1, "…", 0.5, title="The Constitution of the United States"
    )
    amendments = Evidence("s4", "doc-a", 1, "…", 0.4, title="Amendments")
    assert (
        grounding.named_documents(
            "Since when do voters elect senators instead of state legislatures?",
            [constitution, amendments],
        )
        == set()
    )


@pytest.mark.parametrize(
    ("question", "uncommon"),
    [
        # French and German words are not names, however rare in English, nor their forms
        # and compounds; a code or a word neither language has is one.
        (
            "Ma partition /var se remplit d'archives de paquets téléchargées, comment m'en"
            " débarrasser ?",
            [],
        ),
        ("Depuis quelle version l'architecture ia64 n'est-elle plus prise en charge ?", ["ia64"]),
        ("Welches Paket hilft mir, einen Fehlerbericht zu schreiben?", []),
        ("Wie oft läuft gnuplot standardmäßig?", ["gnuplot"]),
    ],
)
def test_uncommon_words_of_a_question_in_another_language(
    question: str, uncommon: list[str]
) -> None:
    assert grounding.uncommon(question) == uncommon


@pytest.mark.parametrize(
    ("question", "quantity", "default", "limit"),
    [
        ("Combien de temps faut-il pour compiler un noyau ?", True, False, False),
        ("Sur quel port apt-cacher écoute-t-il par défaut ?", False, True, False),
        ("Quelle est la taille maximale du journal de dpkg ?", False, False, True),
        ("Wie oft läuft cron-apt standardmäßig?", True, True, False),
        ("Wie viele Entwickler hat Debian?", True, False, False),
        ("¿Cuántos bits tiene una clave por defecto?", True, True, False),
        ("Qual è il numero massimo di connessioni?", False, False, True),
        # A way, not a quantity or a default.
        ("Comment bloquer un paquet par défaut ?", False, False, False),
        ("Wie blockiere ich ein Paket mit synaptic?", False, False, False),
        ("Hoe lang duurt een update?", True, False, False),
        # Their words are read in their questions only: these are English ones.
        ("What are light quanta?", False, False, False),
        ("Is a minimal install enough for a server?", False, False, False),
    ],
)
def test_what_a_question_in_another_language_asks_for(
    question: str, quantity: bool, default: bool, limit: bool
) -> None:
    assert grounding.asks_quantity(question) is quantity
    assert grounding.asks_default(question) is default
    assert grounding.asks_limit(question) is limit


def test_how_long_in_another_language_wants_a_unit_of_time() -> None:
    kind = grounding.number_kind("Combien de temps dure une mise à jour ?")
    assert kind == "duration"
    assert grounding.has_kind("Comptez environ 10 minutes.", kind)
    assert not grounding.has_kind("Debian fonctionne sur 9 architectures.", kind)
    assert grounding.number_kind("Wie lange dauert es?") == "duration"


def test_an_opening_mark_does_not_make_the_first_word_a_name() -> None:
    assert grounding.names("¿Qué devuelve /dev/zero cuando se lee?") == ["/dev/zero"]
    assert grounding.names("Tengo Debian. ¿Cómo instalo GIMP?") == ["Debian", "GIMP"]
    assert grounding.names("«Où» est Debian ?") == ["Debian"]
