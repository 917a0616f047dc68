"""The demo's hand-written content: factual questions with right and wrong answers, the
assertive and hedged ways of saying them, and the arena's everyday requests.

Every question has one correct answer sentence and one with a single planted error of
the kind a model makes (a neighbouring fact, a transposed digit, a wrong unit, a related
person), so an annotator who checks can tell them apart and one who skims may not. The
tone frames come in assertive/hedged pairs of about the same length, so a matched tone
variant differs from its twin in confidence and not in length.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FactualItem:
    """One question, its correct answer and the same answer with a planted error."""

    topic: str
    question: str
    right: str
    wrong: str


# The questions asked in the guideline's examples and quiz come last: the demo's tasks
# use the first 90, so a quiz never gives away a task's answer.
FACTUAL_ITEMS: tuple[FactualItem, ...] = (
    # -- geography -------------------------------------------------------------------
    FactualItem(
        "geography",
        "Which is the longest river in South America?",
        "The Amazon is the longest river in South America, at roughly 6,400 km.",
        "The Paraná is the longest river in South America, at roughly 6,400 km.",
    ),
    FactualItem(
        "geography",
        "What is the largest ocean on Earth?",
        "The Pacific is the largest ocean, covering about a third of the planet's surface.",
        "The Atlantic is the largest ocean, covering about a third of the planet's surface.",
    ),
    FactualItem(
        "geography",
        "What's the highest mountain in Africa?",
        "Kilimanjaro, in Tanzania, is the highest mountain in Africa at about 5,895 metres.",
        "Mount Kenya is the highest mountain in Africa at about 5,895 metres.",
    ),
    FactualItem(
        "geography",
        "Which is the largest hot desert in the world?",
        "The Sahara is the largest hot desert, covering much of North Africa.",
        "The Gobi is the largest hot desert, covering much of northern China and Mongolia.",
    ),
    FactualItem(
        "geography",
        "What is the capital of New Zealand?",
        "Wellington is the capital, at the southern tip of the North Island.",
        "Auckland is the capital, on the northern half of the North Island.",
    ),
    FactualItem(
        "geography",
        "Which two countries share the longest international border?",
        "Canada and the United States, whose border runs for about 8,900 km.",
        "Russia and Kazakhstan, whose border runs for about 8,900 km.",
    ),
    FactualItem(
        "geography",
        "I'm planning a trip to Marrakesh. Which country is it in?",
        "Marrakesh is in Morocco, at the foot of the Atlas Mountains.",
        "Marrakesh is in Algeria, at the foot of the Atlas Mountains.",
    ),
    FactualItem(
        "geography",
        "What is the smallest country in the world by area?",
        "Vatican City, at about 0.44 square kilometres.",
        "Monaco, at about 0.44 square kilometres.",
    ),
    FactualItem(
        "geography",
        "Which river flows through Budapest?",
        "The Danube flows through Budapest, separating Buda from Pest.",
        "The Rhine flows through Budapest, separating Buda from Pest.",
    ),
    FactualItem(
        "geography",
        "Not counting continents, what's the largest island in the world?",
        "Greenland, at a little over two million square kilometres.",
        "New Guinea, at a little over two million square kilometres.",
    ),
    FactualItem(
        "geography",
        "What is the capital of Brazil?",
        "Brazil's capital is Brasília, which replaced Rio de Janeiro in 1960.",
        "Brazil's capital is Rio de Janeiro, which replaced Brasília in 1960.",
    ),
    FactualItem(
        "geography",
        "Which is the deepest lake in the world?",
        "Lake Baikal in Siberia, which is about 1,640 metres deep at its deepest point.",
        "Lake Tanganyika in East Africa, which is about 1,640 metres deep at its deepest point.",
    ),
    FactualItem(
        "geography",
        "Which ocean lies between Africa and Australia?",
        "The Indian Ocean lies between them.",
        "The Southern Ocean lies between them.",
    ),
    # -- science ---------------------------------------------------------------------
    FactualItem(
        "science",
        "How fast does light travel in a vacuum?",
        "Light travels at about 299,792 kilometres per second in a vacuum.",
        "Light travels at about 186,000 kilometres per second in a vacuum.",
    ),
    FactualItem(
        "science",
        "My daughter's homework asks how many bones an adult human has. What's the answer?",
        "An adult skeleton has 206 bones; babies are born with more, and some fuse as they grow.",
        "An adult skeleton has 212 bones; babies are born with more, and some fuse as they grow.",
    ),
    FactualItem(
        "science",
        "Which gas do plants take in for photosynthesis?",
        "Plants take in carbon dioxide and release oxygen.",
        "Plants take in oxygen and release carbon dioxide.",
    ),
    FactualItem(
        "science",
        "What is the hardest natural mineral?",
        "Diamond, which scores 10 on the Mohs scale of hardness.",
        "Quartz, which scores 10 on the Mohs scale of hardness.",
    ),
    FactualItem(
        "science",
        "Which organ produces insulin?",
        "The pancreas, in clusters of cells called the islets of Langerhans.",
        "The liver, in clusters of cells called the islets of Langerhans.",
    ),
    FactualItem(
        "science",
        "What is the freezing point of water in Fahrenheit?",
        "Water freezes at 32 °F.",
        "Water freezes at 0 °F.",
    ),
    FactualItem(
        "science",
        "Which planet is closest to the Sun?",
        "Mercury is the closest planet to the Sun.",
        "Venus is the closest planet to the Sun.",
    ),
    FactualItem(
        "science",
        "What is the most abundant gas in the air we breathe?",
        "Nitrogen, which makes up about 78 percent of dry air.",
        "Oxygen, which makes up about 78 percent of dry air.",
    ),
    FactualItem(
        "science",
        "How long does sunlight take to reach Earth?",
        "Sunlight takes about eight minutes and twenty seconds to reach Earth.",
        "Sunlight takes about eight seconds to reach Earth.",
    ),
    FactualItem(
        "science",
        "What is table salt, chemically?",
        "Table salt is sodium chloride, NaCl.",
        "Table salt is potassium chloride, KCl.",
    ),
    FactualItem(
        "science",
        "Which blood type can be given to anyone who needs red cells?",
        "O negative, which is why it is called the universal red-cell donor type.",
        "AB positive, which is why it is called the universal red-cell donor type.",
    ),
    FactualItem(
        "science",
        "Which part of the cell produces most of its energy?",
        "The mitochondria, which produce most of the cell's ATP.",
        "The ribosomes, which produce most of the cell's ATP.",
    ),
    FactualItem(
        "science",
        "How many chromosomes do humans normally have?",
        "Humans normally have 46 chromosomes, in 23 pairs.",
        "Humans normally have 48 chromosomes, in 24 pairs.",
    ),
    FactualItem(
        "science",
        "What does DNA stand for?",
        "DNA stands for deoxyribonucleic acid.",
        "DNA stands for deoxyribonitric acid.",
    ),
    FactualItem(
        "science",
        "How fast does sound travel in air?",
        "Roughly 343 metres per second in air at 20 °C.",
        "Roughly 343 kilometres per second in air at 20 °C.",
    ),
    FactualItem(
        "science",
        "Which element has atomic number 1?",
        "Hydrogen has atomic number 1.",
        "Helium has atomic number 1.",
    ),
    FactualItem(
        "science",
        "What is absolute zero in degrees Celsius?",
        "Absolute zero is −273.15 °C.",
        "Absolute zero is −237.15 °C.",
    ),
    FactualItem(
        "science",
        "Which vitamin does the skin make in sunlight?",
        "The skin makes vitamin D when it is exposed to UVB light.",
        "The skin makes vitamin C when it is exposed to UVB light.",
    ),
    FactualItem(
        "science",
        "How many planets are there in the Solar System?",
        "There are eight; Pluto was reclassified as a dwarf planet in 2006.",
        "There are nine; Pluto was confirmed as the ninth planet in 2006.",
    ),
    FactualItem(
        "science",
        "What is the pH of pure water?",
        "Pure water has a pH of 7 at 25 °C, which is neutral.",
        "Pure water has a pH of 0 at 25 °C, which is neutral.",
    ),
    FactualItem(
        "science",
        "What's the largest organ of the human body?",
        "The skin is the largest organ of the body.",
        "The liver is the largest organ of the body.",
    ),
    FactualItem(
        "science",
        "When did Einstein publish the general theory of relativity?",
        "Einstein presented general relativity in 1915.",
        "Einstein presented general relativity in 1905.",
    ),
    # -- history ---------------------------------------------------------------------
    FactualItem(
        "history",
        "In which year did the Berlin Wall fall?",
        "The Berlin Wall fell in 1989, on the night of 9 November.",
        "The Berlin Wall fell in 1991, on the night of 9 November.",
    ),
    FactualItem(
        "history",
        "Who was the first person to walk on the Moon?",
        "Neil Armstrong, on 20 July 1969, during the Apollo 11 mission.",
        "Buzz Aldrin, on 20 July 1969, during the Apollo 11 mission.",
    ),
    FactualItem(
        "history",
        "When did the First World War end?",
        "The armistice that ended the fighting was signed on 11 November 1918.",
        "The armistice that ended the fighting was signed on 11 November 1919.",
    ),
    FactualItem(
        "history",
        "Who was the first President of the United States?",
        "George Washington, who took office in 1789.",
        "John Adams, who took office in 1789.",
    ),
    FactualItem(
        "history",
        "In what year did the Titanic sink?",
        "The Titanic sank in April 1912, on its maiden voyage.",
        "The Titanic sank in April 1915, on its maiden voyage.",
    ),
    FactualItem(
        "history",
        "What did the Colossus of Rhodes depict?",
        "It was a huge bronze statue of the sun god Helios.",
        "It was a huge bronze statue of the sea god Poseidon.",
    ),
    FactualItem(
        "history",
        "Who was the main author of the US Declaration of Independence?",
        "Thomas Jefferson wrote most of the draft in 1776.",
        "Benjamin Franklin wrote most of the draft in 1776.",
    ),
    FactualItem(
        "history",
        "When did Nelson Mandela become President of South Africa?",
        "He was inaugurated in May 1994, after the country's first fully democratic election.",
        "He was inaugurated in May 1990, after the country's first fully democratic election.",
    ),
    FactualItem(
        "history",
        "Who built Machu Picchu?",
        "The Incas built it in the 15th century.",
        "The Aztecs built it in the 15th century.",
    ),
    FactualItem(
        "history",
        "In what year did Columbus first reach the Americas?",
        "Columbus first landed in the Bahamas in 1492.",
        "Columbus first landed in the Bahamas in 1498.",
    ),
    FactualItem(
        "history",
        "Who led Britain for most of the Second World War?",
        "Winston Churchill, who was Prime Minister from May 1940 to July 1945.",
        "Neville Chamberlain, who was Prime Minister from May 1940 to July 1945.",
    ),
    FactualItem(
        "history",
        "When did printing with movable type arrive in Europe?",
        "Johannes Gutenberg introduced it in Mainz around 1440.",
        "Johannes Gutenberg introduced it in Mainz around 1540.",
    ),
    FactualItem(
        "history",
        "Which country gave the Statue of Liberty to the United States?",
        "France; the statue was dedicated in New York in 1886.",
        "Britain; the statue was dedicated in New York in 1886.",
    ),
    FactualItem(
        "history",
        "Who was the first woman to win a Nobel Prize?",
        "Marie Curie, who shared the 1903 Nobel Prize in Physics.",
        "Marie Curie, who won the 1911 Nobel Prize in Physics on her own.",
    ),
    FactualItem(
        "history",
        "When was Sputnik launched?",
        "The Soviet Union launched Sputnik 1 on 4 October 1957.",
        "The Soviet Union launched Sputnik 1 on 4 October 1961.",
    ),
    FactualItem(
        "history",
        "What was the capital of the Byzantine Empire?",
        "Constantinople, today's Istanbul.",
        "Ravenna, in today's northern Italy.",
    ),
    FactualItem(
        "history",
        "When did women in the UK first get the vote in general elections?",
        "In 1918, for women over 30 who met a property test; equal voting rights followed in 1928.",
        "In 1908, for women over 30 who met a property test; equal voting rights followed in 1928.",
    ),
    FactualItem(
        "history",
        "What was the name of the ship Darwin sailed around the world on?",
        "HMS Beagle, on a voyage that lasted from 1831 to 1836.",
        "HMS Endeavour, on a voyage that lasted from 1831 to 1836.",
    ),
    FactualItem(
        "history",
        "Whose nearly intact tomb did Howard Carter find in 1922?",
        "Tutankhamun's, in the Valley of the Kings.",
        "Ramesses II's, in the Valley of the Kings.",
    ),
    FactualItem(
        "history",
        "When were the Great Pyramids of Giza built?",
        "During Egypt's Old Kingdom, about 4,500 years ago.",
        "During Egypt's New Kingdom, about 3,000 years ago.",
    ),
    # -- literature and the arts -----------------------------------------------------
    FactualItem(
        "arts",
        "Who wrote Pride and Prejudice?",
        "Jane Austen; it was published in 1813.",
        "Charlotte Brontë; it was published in 1813.",
    ),
    FactualItem(
        "arts",
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci, who began it in the early 1500s.",
        "Michelangelo, who began it in the early 1500s.",
    ),
    FactualItem(
        "arts",
        "Who wrote One Hundred Years of Solitude?",
        "Gabriel García Márquez, in 1967.",
        "Jorge Luis Borges, in 1967.",
    ),
    FactualItem(
        "arts",
        "Who composed the Moonlight Sonata?",
        "Ludwig van Beethoven, in 1801.",
        "Wolfgang Amadeus Mozart, in 1801.",
    ),
    FactualItem(
        "arts",
        "Which city is the Prado Museum in?",
        "The Prado is in Madrid.",
        "The Prado is in Barcelona.",
    ),
    FactualItem(
        "arts",
        "Who wrote the novel Nineteen Eighty-Four?",
        "George Orwell; it was published in 1949.",
        "Aldous Huxley; it was published in 1949.",
    ),
    FactualItem(
        "arts",
        "Who painted The Starry Night?",
        "Vincent van Gogh, in 1889, while staying at the asylum in Saint-Rémy.",
        "Paul Gauguin, in 1889, while staying at the asylum in Saint-Rémy.",
    ),
    FactualItem(
        "arts",
        "What language were the Iliad and the Odyssey first composed in?",
        "They were composed in ancient Greek.",
        "They were composed in Latin.",
    ),
    FactualItem(
        "arts",
        "Who wrote Hamlet?",
        "William Shakespeare, around 1600.",
        "Christopher Marlowe, around 1600.",
    ),
    FactualItem(
        "arts",
        "How many symphonies did Beethoven complete?",
        "He completed nine symphonies.",
        "He completed eleven symphonies.",
    ),
    FactualItem(
        "arts",
        "Who made the sculpture The Thinker?",
        "Auguste Rodin, who first conceived it around 1880 for The Gates of Hell.",
        "Edgar Degas, who first conceived it around 1880 for The Gates of Hell.",
    ),
    FactualItem(
        "arts",
        "Who created Sherlock Holmes?",
        "Arthur Conan Doyle, who introduced him in A Study in Scarlet in 1887.",
        "Agatha Christie, who introduced him in A Study in Scarlet in 1887.",
    ),
    FactualItem(
        "arts",
        "Where does the haiku come from?",
        "Japan, where it grew out of the opening verse of longer linked poems.",
        "China, where it grew out of the opening verse of longer linked poems.",
    ),
    FactualItem(
        "arts",
        "Who wrote Don Quixote?",
        "Miguel de Cervantes; the first part appeared in 1605.",
        "Lope de Vega; the first part appeared in 1605.",
    ),
    FactualItem(
        "arts",
        "Who painted the ceiling of the Sistine Chapel?",
        "Michelangelo, between 1508 and 1512.",
        "Raphael, between 1508 and 1512.",
    ),
    # -- maths -----------------------------------------------------------------------
    FactualItem(
        "maths",
        "What is the smallest prime number?",
        "The smallest prime is 2, which is also the only even prime.",
        "The smallest prime is 1, because it is divisible only by itself.",
    ),
    FactualItem(
        "maths",
        "What's the square root of 144?",
        "The square root of 144 is 12.",
        "The square root of 144 is 14.",
    ),
    FactualItem(
        "maths",
        "What do the angles of a triangle add up to?",
        "The interior angles of a triangle always add up to 180 degrees.",
        "The interior angles of a triangle always add up to 360 degrees.",
    ),
    FactualItem(
        "maths",
        "What is 15% of 80?",
        "15% of 80 is 12.",
        "15% of 80 is 15.",
    ),
    FactualItem(
        "maths",
        "What is pi to four decimal places?",
        "Pi is 3.1416 to four decimal places.",
        "Pi is 3.1428 to four decimal places.",
    ),
    FactualItem(
        "maths",
        "How many sides does a hexagon have?",
        "A hexagon has six sides.",
        "A hexagon has eight sides.",
    ),
    FactualItem(
        "maths",
        "What is 2 to the power of 10?",
        "2 to the power of 10 is 1,024.",
        "2 to the power of 10 is 1,000.",
    ),
    FactualItem(
        "maths",
        "How many seconds are there in a day?",
        "There are 86,400 seconds in a day.",
        "There are 84,600 seconds in a day.",
    ),
    FactualItem(
        "maths",
        "What comes next in the sequence 1, 1, 2, 3, 5, 8?",
        "13: each number is the sum of the two before it.",
        "11: each number is the sum of the two before it.",
    ),
    FactualItem(
        "maths",
        "How many millilitres are there in a litre?",
        "A litre is 1,000 millilitres.",
        "A litre is 100 millilitres.",
    ),
    # -- everyday --------------------------------------------------------------------
    FactualItem(
        "everyday",
        "What's a normal body temperature for an adult?",
        "Around 37 °C (98.6 °F), though it varies a little between people and through the day.",
        "Around 35 °C (95 °F), though it varies a little between people and through the day.",
    ),
    FactualItem(
        "everyday",
        "How much sleep does an adult need?",
        "Most adults need at least seven hours a night.",
        "Most adults need only about five hours a night.",
    ),
    FactualItem(
        "everyday",
        "Which vitamin are oranges best known for?",
        "Vitamin C.",
        "Vitamin B12.",
    ),
    FactualItem(
        "everyday",
        "What currency is used in Japan?",
        "Japan uses the yen.",
        "Japan uses the won.",
    ),
    FactualItem(
        "everyday",
        "Can I pay in euros in Switzerland, or do they have their own currency?",
        "Switzerland has its own currency, the Swiss franc; it does not use the euro.",
        "Switzerland uses the euro, which replaced the Swiss franc in 2002.",
    ),
    FactualItem(
        "everyday",
        "How many teaspoons are in a tablespoon?",
        "A tablespoon is three teaspoons.",
        "A tablespoon is two teaspoons.",
    ),
    FactualItem(
        "everyday",
        "What does the 'www' in a web address stand for?",
        "It stands for World Wide Web.",
        "It stands for Wide World Web.",
    ),
    FactualItem(
        "everyday",
        "Who founded Microsoft?",
        "Bill Gates and Paul Allen, in 1975.",
        "Bill Gates and Steve Jobs, in 1975.",
    ),
    FactualItem(
        "everyday",
        "What does CPU stand for?",
        "CPU stands for central processing unit.",
        "CPU stands for computer power unit.",
    ),
    FactualItem(
        "everyday",
        "How many bits are in a byte?",
        "A byte is eight bits.",
        "A byte is sixteen bits.",
    ),
    FactualItem(
        "everyday",
        "When did the first iPhone come out?",
        "Apple released the first iPhone in 2007.",
        "Apple released the first iPhone in 2005.",
    ),
    FactualItem(
        "everyday",
        "What is guacamole mainly made of?",
        "Mashed avocado, usually with lime, salt, onion and chilli.",
        "Mashed green peas, usually with lime, salt, onion and chilli.",
    ),
    FactualItem(
        "everyday",
        "Where does the tango come from?",
        "The Río de la Plata region, around Buenos Aires and Montevideo, in the late 19th century.",
        "Andalusia in southern Spain, around Seville and Cádiz, in the late 19th century.",
    ),
    FactualItem(
        "everyday",
        "How many players does a football team have on the pitch?",
        "Eleven, including the goalkeeper.",
        "Twelve, including the goalkeeper.",
    ),
    FactualItem(
        "everyday",
        "How often are the Summer Olympics held?",
        "Every four years; the Tokyo 2020 Games were postponed to 2021.",
        "Every two years, alternating with the Winter Games.",
    ),
    # -- asked in the guideline's examples and quiz: not used by any task ------------
    FactualItem(
        "geography",
        "Settle an argument for us: what's the capital of Australia?",
        "The capital is Canberra, a planned city chosen as a compromise between Sydney and Melbourne.",
        "The capital is Sydney, which is also the country's largest city.",
    ),
    FactualItem(
        "geography",
        "What is the capital of Canada?",
        "Canada's capital is Ottawa, in the province of Ontario.",
        "Canada's capital is Toronto, in the province of Ontario.",
    ),
    FactualItem(
        "science",
        "At what temperature does water boil at sea level?",
        "At sea level water boils at 100 °C (212 °F).",
        "At sea level water boils at 90 °C (194 °F).",
    ),
    FactualItem(
        "science",
        "Which is the largest planet in the Solar System?",
        "Jupiter; more than 1,300 Earths would fit inside it.",
        "Saturn; more than 1,300 Earths would fit inside it.",
    ),
    FactualItem(
        "science",
        "What's the chemical symbol for sodium?",
        "The symbol is Na, from its Latin name, natrium.",
        "The symbol is So, from the first two letters of its name.",
    ),
)

# (assertive, hedged) ways of wrapping an answer sentence `{s}`, of about equal length.
TONE_FRAMES: tuple[tuple[str, str], ...] = (
    ("{s} That is well documented.", "{s} At least, I believe so."),
    ("{s} You can rely on that.", "{s} But please double-check."),
    ("Definitely: {s}", "Probably: {s}"),
    ("{s} There is no real doubt about this.", "{s} I may be misremembering, though."),
    ("Easy one. {s}", "If I recall: {s}"),
    ("{s} Any good reference will confirm it.", "{s} I'm not fully sure, so do verify."),
)


@dataclass(frozen=True)
class ArenaRequest:
    """An everyday request: three ways of asking it and two good answers, each a list of
    chunks (sentences, or fenced code) whose every prefix reads as a complete answer."""

    category: str
    prompts: tuple[str, str, str]
    answers: tuple[tuple[str, ...], tuple[str, ...]]


ARENA_REQUESTS: tuple[ArenaRequest, ...] = (
    ArenaRequest(
        "personal finance",
        (
            "Can you explain compound interest in simple terms?",
            "What's the difference between simple and compound interest?",
            "My bank says my savings earn compound interest. What does that actually mean?",
        ),
        (
            (
                "Compound interest means you earn interest not only on the money you put in, "
                "but also on the interest it has already earned.",
                "Say you save 1,000 at 5% a year: after one year you have 1,050, and in the "
                "second year the 5% is paid on 1,050, not on 1,000.",
                "That small difference grows over time, which is why the balance curves "
                "upwards instead of rising in a straight line.",
                "Simple interest, by contrast, is only ever paid on the original amount.",
                "The same effect works against you on debts such as credit cards, where unpaid "
                "interest is added to what you owe.",
            ),
            (
                "With compound interest, the interest you earn is added to your balance, and "
                "from then on it earns interest too.",
                "How often it is added matters: monthly compounding grows a little faster than "
                "yearly compounding at the same rate.",
                "A handy rule of thumb is the rule of 72: divide 72 by the yearly rate to "
                "estimate how many years it takes to double your money.",
                "At 6% a year, for example, your savings double in roughly 12 years.",
                "The longer you leave the money untouched, the stronger the effect becomes.",
            ),
        ),
    ),
    ArenaRequest(
        "cooking",
        (
            "How do I keep my sourdough starter alive while I'm away for two weeks?",
            "I'm going on holiday. What should I do with my sourdough starter?",
            "Can a sourdough starter survive in the fridge for a few weeks?",
        ),
        (
            (
                "Feed your starter, let it sit for an hour or two, then put it in the fridge "
                "in a jar with a loose lid.",
                "Cold slows the yeast and bacteria down so much that a healthy starter can go "
                "two or three weeks without feeding.",
                "When you get back, pour off any grey liquid on top; it is harmless alcohol "
                "from the fermentation.",
                "Then give it two or three feeds at room temperature before you bake with it.",
                "If you'll be away longer, you can also dry a thin layer on baking paper and "
                "keep the flakes in a sealed jar.",
            ),
            (
                "The simplest option is the fridge: a well-fed starter will sleep there happily "
                "for a couple of weeks.",
                "Give it a slightly stiffer feed than usual, with less water, so it has more "
                "to eat while it waits.",
                "Some bakers freeze a spoonful as a backup in case the main jar doesn't recover.",
                "After you return, expect it to be sluggish for a day or two until regular "
                "feeds wake it up.",
                "Alternatively, ask a friend to feed it once or twice a week while you're gone.",
            ),
        ),
    ),
    ArenaRequest(
        "writing",
        (
            "Could you help me write a short follow-up email after a job interview?",
            "What should I say in a thank-you email after an interview?",
            "I had an interview yesterday. How do I follow up without sounding pushy?",
        ),
        (
            (
                "Send a brief thank-you email within a day, addressed to the person who "
                "interviewed you.",
                "Thank them for their time and mention one specific thing from the "
                "conversation, so it doesn't read like a template.",
                "Restate in one sentence why you're interested in the role and what you'd "
                "bring to it.",
                "Keep it to a few short paragraphs and end by saying you look forward to "
                "hearing about next steps.",
                "If you haven't heard back by the date they gave you, a polite one-line "
                "check-in a few days later is perfectly normal.",
            ),
            (
                "Keep it short: thank them, remind them who you are, and say you're still keen.",
                'For example: "Thank you for taking the time to meet me on Tuesday to discuss '
                'the analyst role."',
                "\"I especially enjoyed hearing about the team's new reporting project, and "
                "I'd be glad to contribute to it.\"",
                '"Please let me know if there is anything else I can send you."',
                "Send it within 24 hours, and resist the urge to follow up again before the "
                "date they gave you.",
            ),
        ),
    ),
    ArenaRequest(
        "programming",
        (
            "How do I reverse a linked list in Python?",
            "Show me an iterative way to reverse a singly linked list.",
            "What's the simplest way to reverse a linked list without recursion?",
        ),
        (
            (
                "Walk through the list once, turning each node's next pointer around as you go.",
                "Keep track of the previous node and the current one, so you never lose the "
                "rest of the list.",
                "```python\ndef reverse(head):\n    prev = None\n    while head:\n"
                "        head.next, prev, head = prev, head, head.next\n    return prev\n```",
                "It runs in linear time and uses constant extra memory.",
                "The old tail is returned, because it is now the head.",
            ),
            (
                "The standard approach is iterative and needs no extra list.",
                "```python\nprev, node = None, head\nwhile node is not None:\n"
                "    nxt = node.next\n    node.next = prev\n    prev, node = node, nxt\n"
                "head = prev\n```",
                "Each step detaches the current node and points it back at the one before.",
                "A recursive version also works, but it can hit Python's recursion limit on "
                "long lists.",
                "Test it on an empty list and a one-node list too: both should come back "
                "unchanged.",
            ),
        ),
    ),
    ArenaRequest(
        "fitness",
        (
            "How should I train for my first half-marathon?",
            "I've got 12 weeks until a half-marathon and I can currently run 5 km. Any advice?",
            "What does a beginner's half-marathon plan look like?",
        ),
        (
            (
                "Build up gradually: most beginner plans run for 10 to 12 weeks, with three "
                "or four runs a week.",
                "Make one run each week a long, slow run, and extend it by a kilometre or two "
                "every week or so.",
                "Keep most runs at an easy pace, where you could still hold a conversation.",
                "Cut back on distance in the last week or two, so you start the race rested.",
                "Rest days matter as much as running days; that is when your body adapts.",
            ),
            (
                "Going from 5 km to 21 km in 12 weeks is realistic if you raise your weekly "
                "distance by no more than about 10% a week.",
                "A typical week has two easy runs, one slightly faster run and one long run "
                "at the weekend.",
                "Aim to reach a long run of 16 to 18 km about three weeks before race day.",
                "Practise drinking and eating on your long runs, so race day holds no surprises.",
                "If something starts to hurt in a way that doesn't ease after a day or two, "
                "rest rather than pushing through.",
            ),
        ),
    ),
    ArenaRequest(
        "housing",
        (
            "Is it better to rent or buy a flat?",
            "What should I consider when deciding whether to rent or buy a home?",
            "Renting vs buying: how do I decide?",
        ),
        (
            (
                "It depends mostly on how long you expect to stay: buying usually only pays "
                "off if you stay put for several years.",
                "Buying has large one-off costs, such as the deposit, taxes and fees, which "
                "take time to recover.",
                "Renting keeps you flexible and leaves repairs to the landlord, but the rent "
                "builds no equity.",
                "Compare the total monthly cost of owning, including maintenance and "
                "insurance, with the rent for a similar place.",
                "Also ask yourself what the deposit would earn if you invested it instead.",
            ),
            (
                "There's no universal answer, but a few questions help.",
                "How secure is your income, and would you cope if interest rates rose?",
                "Do you plan to stay in the area for at least five years?",
                "Would you rather have the freedom to move, or the freedom to change the "
                "place as you like?",
                "An online rent-versus-buy calculator with your local prices is a good way "
                "to put numbers on the choice.",
            ),
        ),
    ),
    ArenaRequest(
        "health",
        (
            "How do vaccines work?",
            "Can you explain how a vaccine teaches the immune system?",
            "Why does a vaccine protect you from a disease you've never had?",
        ),
        (
            (
                "A vaccine shows your immune system a harmless version or piece of a germ, so "
                "it can learn to recognise it.",
                "Your body responds by making antibodies and memory cells aimed at that "
                "particular germ.",
                "If you later meet the real germ, those memory cells recognise it, and the "
                "response starts much faster and stronger.",
                "That is why a vaccinated person usually gets a milder illness, or none at all.",
                "Some vaccines need boosters because that memory fades over time.",
            ),
            (
                "Vaccines work by giving your immune system a practice run.",
                "They contain something that looks like the germ, such as an inactivated "
                "virus, a protein from its surface, or instructions for your cells to make "
                "that protein.",
                "The immune system treats it as an intruder and builds up defences against it.",
                "The practice run is far safer than catching the disease itself.",
                "When enough people are vaccinated, a germ also struggles to spread, which "
                "protects people who can't be vaccinated.",
            ),
        ),
    ),
    ArenaRequest(
        "travel",
        (
            "Can you plan a three-day city trip on a small budget?",
            "Any tips for a cheap weekend city break?",
            "How can I visit a big European city for three days without spending much?",
        ),
        (
            (
                "Travel midweek if you can; flights, trains and rooms are usually cheaper "
                "than at weekends.",
                "Stay in a hostel or a guesthouse a little outside the centre, close to "
                "public transport.",
                "Buy a multi-day transport pass, and check whether the city offers a museum "
                "card with free entry.",
                "Many museums have a free evening or a free first Sunday of the month.",
                "Eat your main meal at lunchtime, when many restaurants offer set menus at "
                "lower prices.",
            ),
            (
                "Day one: take a free walking tour to get your bearings, then picnic in a park.",
                "Day two: pick one paid museum or attraction and spend the rest of the day "
                "exploring neighbourhoods on foot.",
                "Day three: visit a local market in the morning and a viewpoint at sunset.",
                "Book your room early, and look for places with a kitchen so you can cook "
                "some meals.",
                "Set a daily budget and track it on your phone, so small costs don't add up "
                "unnoticed.",
            ),
        ),
    ),
    ArenaRequest(
        "programming",
        (
            "How do I read a CSV with pandas and drop the empty rows?",
            "In pandas, how can I remove rows that are completely empty after loading a CSV?",
            "Quick pandas question: load a CSV and get rid of the blank rows.",
        ),
        (
            (
                "Use read_csv to load the file and dropna to remove rows that are entirely empty.",
                '```python\nimport pandas as pd\n\ndf = pd.read_csv("data.csv")\n'
                'df = df.dropna(how="all")\n```',
                'With how="all", a row is dropped only if every column is missing; the '
                'default, how="any", would also drop rows with a single gap.',
                "read_csv already skips completely blank lines, so dropna catches the rows "
                "that contain only separators.",
                "Call df.reset_index(drop=True) afterwards if you want the row numbers to be "
                "consecutive again.",
            ),
            (
                "Load the file, then keep only the rows that have at least one value.",
                '```python\nimport pandas as pd\n\ndf = pd.read_csv("data.csv")\n'
                "df = df[df.notna().any(axis=1)]\n```",
                "Cells that contain only spaces are read as text rather than as missing "
                "values, so strip or replace them first if your file has any.",
                "Printing df.shape before and after tells you how many rows were removed.",
                "For very large files, the same filter works chunk by chunk with the "
                "chunksize argument.",
            ),
        ),
    ),
    ArenaRequest(
        "history",
        (
            "What caused the French Revolution?",
            "Summarise the main causes of the French Revolution.",
            "Why did the French Revolution break out in 1789?",
        ),
        (
            (
                "The French Revolution grew out of a financial crisis, a rigid social order "
                "and new political ideas.",
                "By the 1780s the state was deeply in debt, partly because of its wars, "
                "including its support for the American Revolution.",
                "The tax burden fell mostly on commoners, while the clergy and the nobility "
                "kept many privileges.",
                "Poor harvests in 1788 drove up bread prices and hunger in the cities.",
                "Enlightenment ideas about rights and representation gave people a language "
                "to challenge the monarchy.",
            ),
            (
                "In short: money, privilege and bread.",
                "The crown was close to bankruptcy, and in 1789 Louis XVI called the "
                "Estates-General, for the first time since 1614, to raise taxes.",
                "The Third Estate, which represented most of the population, demanded a "
                "fairer voice and declared itself the National Assembly.",
                "Food shortages and rising prices made ordinary Parisians ready to act, as "
                "the storming of the Bastille showed in July 1789.",
                "Historians still debate how much weight each cause deserves.",
            ),
        ),
    ),
    ArenaRequest(
        "parenting",
        (
            "Can you suggest a bedtime routine for a two-year-old?",
            "My toddler fights bedtime every night. What routine might help?",
            "What's a good evening routine to help a toddler sleep?",
        ),
        (
            (
                "Keep the same order of steps every night, for example bath, pyjamas, teeth, "
                "two stories, then lights out.",
                "Start the routine at the same time each evening, and keep it to about 30 minutes.",
                "Turn off screens at least an hour before bed and dim the lights.",
                "Offer small choices, such as which pyjamas or which book, so your child "
                "feels some control.",
                "If they get up, walk them back to bed calmly and briefly, with as little "
                "conversation as possible.",
            ),
            (
                "Toddlers sleep best with a predictable, calm routine.",
                "Most two-year-olds need 11 to 14 hours of sleep in 24 hours, naps included.",
                "A warm bath, a quiet story and a goodnight phrase you always use can become "
                "signals that it is time to sleep.",
                "A nightlight or a comfort toy can help if they're afraid of the dark.",
                "Expect it to take a week or two before a new routine sticks.",
            ),
        ),
    ),
    ArenaRequest(
        "statistics",
        (
            "What is a p-value?",
            "Can you explain p-values without the jargon?",
            "My study found p = 0.03. What does that actually tell me?",
        ),
        (
            (
                "A p-value is the probability of getting results at least as extreme as "
                "yours if there were really no effect.",
                "A small p-value means your data would be surprising under that no-effect "
                "assumption.",
                "It is not the probability that the no-effect hypothesis is true, and it "
                "doesn't tell you how big or important the effect is.",
                "The common 0.05 cut-off is a convention, not a law of nature.",
                "Report the effect size and a confidence interval alongside it.",
            ),
            (
                "Imagine that the effect you're testing doesn't exist at all.",
                "The p-value tells you how often you'd see data as extreme as yours in that "
                "imaginary world, just by chance.",
                "So p = 0.03 means such data would turn up about 3% of the time if there were "
                "no effect.",
                "It does not mean there is a 97% chance that your hypothesis is right.",
                "With a large enough sample, even a tiny, unimportant effect can give a small "
                "p-value.",
            ),
        ),
    ),
    ArenaRequest(
        "gardening",
        (
            "How do I repot a root-bound houseplant?",
            "My plant's roots are growing out of the bottom of the pot. How should I repot it?",
            "What's the right way to move a houseplant into a bigger pot?",
        ),
        (
            (
                "Water the plant the day before, then ease it out of the pot by tipping it "
                "and tapping the sides.",
                "Gently tease apart the circling roots with your fingers, and trim any that "
                "are dead or mushy.",
                "Choose a new pot only 2 to 5 cm wider than the old one, with a drainage hole.",
                "Set the plant at the same depth as before and fill around it with fresh "
                "potting mix.",
                "Water it well and keep it out of strong sun for a week while it settles.",
            ),
            (
                "Spring is the best time, when the plant is starting to grow.",
                "Pick a pot one size up; a much bigger pot holds too much wet soil and can "
                "rot the roots.",
                "If the roots form a solid mat, make a few shallow cuts down the sides of the "
                "root ball to encourage new growth.",
                "Use a potting mix that suits the plant, for example a gritty mix for cacti.",
                "Hold off on fertiliser for about a month, as fresh mix already contains "
                "nutrients.",
            ),
        ),
    ),
    ArenaRequest(
        "work",
        (
            "How should I structure a five-minute conference talk?",
            "Help me outline a lightning talk about my research.",
            "I have five minutes to present my project. What should I include?",
        ),
        (
            (
                "Five minutes is enough for one idea, so decide on the single message you "
                "want people to remember.",
                "Open with the problem in a sentence or two, ideally with a concrete example.",
                "Spend most of the time on what you did and the one result that matters most.",
                "End by repeating your main message and telling people where to find more.",
                "Plan about one slide per minute, and rehearse with a timer at least twice.",
            ),
            (
                "A simple outline: problem, approach, result, takeaway.",
                "Minute one: why should the audience care?",
                "Minutes two and three: what you did, shown with a figure rather than a table.",
                "Minute four: what you found, and how sure you are.",
                "Minute five: what it means and what comes next, with a link on the last slide.",
            ),
        ),
    ),
    ArenaRequest(
        "science",
        (
            "Why is the sky blue?",
            "Explain to a ten-year-old why the sky looks blue.",
            "What makes the sky blue during the day and red at sunset?",
        ),
        (
            (
                "Sunlight contains all colours, and the gas molecules in the air scatter "
                "short wavelengths much more than long ones.",
                "Blue light is scattered about five times more strongly than red, so blue "
                "reaches your eyes from all over the sky.",
                "This effect is called Rayleigh scattering.",
                "At sunset the light crosses much more air, so most of the blue is scattered "
                "away before it reaches you, leaving reds and oranges.",
                "The sky doesn't look violet because sunlight contains less violet and our "
                "eyes are less sensitive to it.",
            ),
            (
                "Think of sunlight as a mix of every colour.",
                "When it hits the tiny molecules in the air, the blue part bounces around in "
                "all directions much more than the red part.",
                "So wherever you look in the sky, some of that bounced blue light comes "
                "towards you.",
                "When the Sun is low, its light has a longer path through the air and loses "
                "most of its blue on the way, which is why sunsets look orange and red.",
                "On the Moon, which has no air, the sky looks black even in the daytime.",
            ),
        ),
    ),
)


def join_chunks(chunks: tuple[str, ...] | list[str]) -> str:
    """Sentences run on in one paragraph; a fenced code block stands in its own."""
    text = ""
    for chunk in chunks:
        code = chunk.startswith("```")
        if not text:
            text = chunk
        elif code or text.endswith("```"):
            text += "\n\n" + chunk
        else:
            text += " " + chunk
    return text
