"""Reference data of the synthetic world: geography, industries, the product catalogue, names.

Everything here is a constant; the generator only draws from it.  Labels are shared by both orgs
(the Dataverse ``industrycode`` option set is customised to the same industry labels as the
Salesforce ``Industry`` picklist), so that peer groups line up across sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Org = Literal["salesforce", "dynamics"]
ORGS: tuple[Org, Org] = ("salesforce", "dynamics")


@dataclass(frozen=True)
class City:
    """A city with its state (or None) and a postal-code pattern (``#`` digit, ``@`` letter)."""

    name: str
    state: str | None
    postal: str


@dataclass(frozen=True)
class Country:
    """A country, the territory and region it belongs to, and the org that serves it."""

    name: str
    code: str
    region: str
    territory: str
    org: Org
    culture: str
    legal_suffix: str
    cities: tuple[City, ...]
    weight: float


def _c(name: str, state: str | None, postal: str) -> City:
    return City(name, state, postal)


# region > territory > country.  Salesforce serves the Americas and most of EMEA; Dynamics serves
# APAC plus the Nordics and Middle East & Africa.
COUNTRIES: tuple[Country, ...] = (
    Country(
        "United States",
        "US",
        "Americas",
        "North America East",
        "salesforce",
        "en",
        "Inc.",
        (
            _c("New York", "NY", "100##"),
            _c("Boston", "MA", "021##"),
            _c("Atlanta", "GA", "303##"),
            _c("Chicago", "IL", "606##"),
            _c("Charlotte", "NC", "282##"),
        ),
        9.0,
    ),
    Country(
        "United States",
        "US",
        "Americas",
        "North America West",
        "salesforce",
        "en",
        "Inc.",
        (
            _c("San Francisco", "CA", "941##"),
            _c("Seattle", "WA", "981##"),
            _c("Austin", "TX", "787##"),
            _c("Denver", "CO", "802##"),
            _c("Los Angeles", "CA", "900##"),
        ),
        8.0,
    ),
    Country(
        "Canada",
        "CA",
        "Americas",
        "Canada",
        "salesforce",
        "en",
        "Ltd.",
        (
            _c("Toronto", "ON", "M5# #@#"),
            _c("Montréal", "QC", "H2# #@#"),
            _c("Vancouver", "BC", "V6# #@#"),
        ),
        3.0,
    ),
    Country(
        "Brazil",
        "BR",
        "Americas",
        "Latin America",
        "salesforce",
        "pt",
        "Ltda.",
        (_c("São Paulo", "SP", "01###-###"), _c("Rio de Janeiro", "RJ", "20###-###")),
        2.5,
    ),
    Country(
        "Mexico",
        "MX",
        "Americas",
        "Latin America",
        "salesforce",
        "es",
        "S.A. de C.V.",
        (_c("Ciudad de México", "CDMX", "06###"), _c("Monterrey", "NL", "64###")),
        2.0,
    ),
    Country(
        "Argentina",
        "AR",
        "Americas",
        "Latin America",
        "salesforce",
        "es",
        "S.A.",
        (_c("Buenos Aires", None, "C1###"),),
        0.8,
    ),
    Country(
        "Chile",
        "CL",
        "Americas",
        "Latin America",
        "salesforce",
        "es",
        "S.A.",
        (_c("Santiago", None, "83#####"),),
        0.7,
    ),
    Country(
        "Colombia",
        "CO",
        "Americas",
        "Latin America",
        "salesforce",
        "es",
        "S.A.S.",
        (_c("Bogotá", None, "11####"),),
        0.7,
    ),
    Country(
        "Germany",
        "DE",
        "EMEA",
        "DACH",
        "salesforce",
        "de",
        "GmbH",
        (
            _c("München", None, "80###"),
            _c("Hamburg", None, "20###"),
            _c("Frankfurt am Main", None, "60###"),
            _c("Stuttgart", None, "70###"),
            _c("Berlin", None, "10###"),
        ),
        5.0,
    ),
    Country(
        "Austria",
        "AT",
        "EMEA",
        "DACH",
        "salesforce",
        "de",
        "GmbH",
        (_c("Wien", None, "1###"), _c("Graz", None, "8###")),
        1.0,
    ),
    Country(
        "Switzerland",
        "CH",
        "EMEA",
        "DACH",
        "salesforce",
        "de",
        "AG",
        (_c("Zürich", None, "80##"), _c("Basel", None, "40##"), _c("Genève", None, "12##")),
        1.5,
    ),
    Country(
        "United Kingdom",
        "GB",
        "EMEA",
        "UK & Ireland",
        "salesforce",
        "en",
        "Ltd",
        (
            _c("London", None, "EC#@ #@@"),
            _c("Manchester", None, "M# #@@"),
            _c("Edinburgh", None, "EH# #@@"),
        ),
        4.5,
    ),
    Country(
        "Ireland",
        "IE",
        "EMEA",
        "UK & Ireland",
        "salesforce",
        "en",
        "Ltd",
        (_c("Dublin", None, "D0# @###"),),
        0.8,
    ),
    Country(
        "France",
        "FR",
        "EMEA",
        "France & Benelux",
        "salesforce",
        "fr",
        "SAS",
        (_c("Paris", None, "750##"), _c("Lyon", None, "6900#"), _c("Toulouse", None, "310##")),
        3.5,
    ),
    Country(
        "Netherlands",
        "NL",
        "EMEA",
        "France & Benelux",
        "salesforce",
        "nl",
        "B.V.",
        (_c("Amsterdam", None, "10## @@"), _c("Rotterdam", None, "30## @@")),
        1.8,
    ),
    Country(
        "Belgium",
        "BE",
        "EMEA",
        "France & Benelux",
        "salesforce",
        "fr",
        "SA",
        (_c("Bruxelles", None, "10##"), _c("Antwerpen", None, "20##")),
        1.0,
    ),
    Country(
        "Spain",
        "ES",
        "EMEA",
        "Southern Europe",
        "salesforce",
        "es",
        "S.L.",
        (_c("Madrid", None, "280##"), _c("Barcelona", None, "080##")),
        2.0,
    ),
    Country(
        "Italy",
        "IT",
        "EMEA",
        "Southern Europe",
        "salesforce",
        "it",
        "S.p.A.",
        (_c("Milano", None, "201##"), _c("Roma", None, "001##"), _c("Torino", None, "101##")),
        2.2,
    ),
    Country(
        "Portugal",
        "PT",
        "EMEA",
        "Southern Europe",
        "salesforce",
        "pt",
        "Lda.",
        (_c("Lisboa", None, "1###-###"),),
        0.6,
    ),
    Country(
        "Sweden",
        "SE",
        "EMEA",
        "Nordics",
        "dynamics",
        "nordic",
        "AB",
        (_c("Stockholm", None, "1## ##"), _c("Göteborg", None, "4## ##")),
        1.5,
    ),
    Country(
        "Norway",
        "NO",
        "EMEA",
        "Nordics",
        "dynamics",
        "nordic",
        "AS",
        (_c("Oslo", None, "0###"),),
        0.9,
    ),
    Country(
        "Denmark",
        "DK",
        "EMEA",
        "Nordics",
        "dynamics",
        "nordic",
        "A/S",
        (_c("København", None, "1###"), _c("Aarhus", None, "8###")),
        0.9,
    ),
    Country(
        "Finland",
        "FI",
        "EMEA",
        "Nordics",
        "dynamics",
        "nordic",
        "Oy",
        (_c("Helsinki", None, "00###"),),
        0.7,
    ),
    Country(
        "United Arab Emirates",
        "AE",
        "EMEA",
        "Middle East & Africa",
        "dynamics",
        "ar",
        "LLC",
        (_c("Dubai", None, ""), _c("Abu Dhabi", None, "")),
        0.9,
    ),
    Country(
        "Saudi Arabia",
        "SA",
        "EMEA",
        "Middle East & Africa",
        "dynamics",
        "ar",
        "LLC",
        (_c("Riyadh", None, "1####"),),
        0.7,
    ),
    Country(
        "South Africa",
        "ZA",
        "EMEA",
        "Middle East & Africa",
        "dynamics",
        "en",
        "(Pty) Ltd",
        (_c("Johannesburg", "GP", "2###"), _c("Cape Town", "WC", "8###")),
        0.8,
    ),
    Country(
        "Australia",
        "AU",
        "APAC",
        "ANZ",
        "dynamics",
        "en",
        "Pty Ltd",
        (
            _c("Sydney", "NSW", "2###"),
            _c("Melbourne", "VIC", "3###"),
            _c("Brisbane", "QLD", "4###"),
        ),
        2.5,
    ),
    Country(
        "New Zealand",
        "NZ",
        "APAC",
        "ANZ",
        "dynamics",
        "en",
        "Limited",
        (_c("Auckland", None, "10##"),),
        0.6,
    ),
    Country(
        "Japan",
        "JP",
        "APAC",
        "Japan",
        "dynamics",
        "ja",
        "K.K.",
        (
            _c("Tokyo", None, "1##-####"),
            _c("Osaka", None, "5##-####"),
            _c("Nagoya", None, "4##-####"),
        ),
        3.5,
    ),
    Country(
        "China",
        "CN",
        "APAC",
        "Greater China",
        "dynamics",
        "zh",
        "Co., Ltd.",
        (
            _c("Shanghai", None, "200###"),
            _c("Beijing", None, "100###"),
            _c("Shenzhen", None, "518###"),
        ),
        3.0,
    ),
    Country(
        "Hong Kong",
        "HK",
        "APAC",
        "Greater China",
        "dynamics",
        "zh",
        "Limited",
        (_c("Hong Kong", None, ""),),
        0.8,
    ),
    Country(
        "Taiwan",
        "TW",
        "APAC",
        "Greater China",
        "dynamics",
        "zh",
        "Co., Ltd.",
        (_c("Taipei", None, "1##"),),
        0.7,
    ),
    Country(
        "Singapore",
        "SG",
        "APAC",
        "Southeast Asia",
        "dynamics",
        "en",
        "Pte. Ltd.",
        (_c("Singapore", None, "0#####"),),
        1.2,
    ),
    Country(
        "Malaysia",
        "MY",
        "APAC",
        "Southeast Asia",
        "dynamics",
        "sea",
        "Sdn. Bhd.",
        (_c("Kuala Lumpur", None, "50###"),),
        0.6,
    ),
    Country(
        "Thailand",
        "TH",
        "APAC",
        "Southeast Asia",
        "dynamics",
        "sea",
        "Co., Ltd.",
        (_c("Bangkok", None, "10###"),),
        0.6,
    ),
    Country(
        "Indonesia",
        "ID",
        "APAC",
        "Southeast Asia",
        "dynamics",
        "sea",
        "PT",
        (_c("Jakarta", None, "1####"),),
        0.6,
    ),
    Country(
        "India",
        "IN",
        "APAC",
        "India",
        "dynamics",
        "in",
        "Pvt. Ltd.",
        (
            _c("Bengaluru", "KA", "560###"),
            _c("Mumbai", "MH", "400###"),
            _c("New Delhi", "DL", "110###"),
        ),
        2.5,
    ),
    Country(
        "South Korea",
        "KR",
        "APAC",
        "Korea",
        "dynamics",
        "ko",
        "Co., Ltd.",
        (_c("Seoul", None, "0####"), _c("Busan", None, "4####")),
        1.2,
    ),
)

REGIONS: tuple[str, ...] = ("Americas", "EMEA", "APAC")


def territories() -> tuple[tuple[str, str, Org], ...]:
    """Every (region, territory, org) in a fixed order."""
    seen: dict[str, tuple[str, str, Org]] = {}
    for country in COUNTRIES:
        seen.setdefault(country.territory, (country.region, country.territory, country.org))
    return tuple(seen.values())


# Industry label -> (wallet intensity: share of the customer's revenue spent on our categories,
# affinity weight per product family index).
INDUSTRIES: tuple[str, ...] = (
    "Manufacturing",
    "Technology",
    "Banking",
    "Insurance",
    "Healthcare",
    "Retail",
    "Telecommunications",
    "Energy",
    "Transportation",
    "Chemicals",
    "Food & Beverage",
    "Government",
)
INDUSTRY_WEIGHTS: tuple[float, ...] = (18, 14, 9, 7, 9, 10, 5, 6, 7, 5, 6, 4)
WALLET_INTENSITY: dict[str, float] = {
    "Manufacturing": 0.0045,
    "Technology": 0.0090,
    "Banking": 0.0083,
    "Insurance": 0.0067,
    "Healthcare": 0.0053,
    "Retail": 0.0037,
    "Telecommunications": 0.0075,
    "Energy": 0.0030,
    "Transportation": 0.0037,
    "Chemicals": 0.0030,
    "Food & Beverage": 0.0027,
    "Government": 0.0045,
}
INDUSTRY_NOUNS: dict[str, tuple[str, ...]] = {
    "Manufacturing": ("Industries", "Werke", "Manufacturing", "Components", "Machinery"),
    "Technology": ("Systems", "Software", "Technologies", "Digital", "Labs"),
    "Banking": ("Bank", "Capital", "Financial", "Credit"),
    "Insurance": ("Insurance", "Assurance", "Mutual", "Re"),
    "Healthcare": ("Health", "Medical", "Pharma", "Care"),
    "Retail": ("Retail", "Stores", "Market", "Brands"),
    "Telecommunications": ("Telecom", "Networks", "Communications"),
    "Energy": ("Energy", "Power", "Utilities", "Renewables"),
    "Transportation": ("Logistics", "Freight", "Transport", "Shipping"),
    "Chemicals": ("Chemicals", "Materials", "Polymers"),
    "Food & Beverage": ("Foods", "Beverages", "Nutrition", "Dairy"),
    "Government": ("Authority", "Agency", "Council", "Services"),
}


@dataclass(frozen=True)
class Product:
    """One product of the catalogue: name, code and list price (whole currency units)."""

    name: str
    code: str
    list_price: int


@dataclass(frozen=True)
class Family:
    """A product family and its products, with the industries that buy it most."""

    name: str
    code: str
    products: tuple[Product, ...]
    affinity: tuple[str, ...]


def _p(name: str, code: str, price: int) -> Product:
    return Product(name, code, price)


FAMILIES: tuple[Family, ...] = (
    Family(
        "Core Platform",
        "CORE",
        (
            _p("Core Platform Standard", "CORE-STD", 1_200),
            _p("Core Platform Enterprise", "CORE-ENT", 2_400),
            _p("Core Platform Unlimited", "CORE-UNL", 4_200),
            _p("Sandbox Pack", "CORE-SBX", 900),
        ),
        ("Manufacturing", "Technology", "Banking", "Retail"),
    ),
    Family(
        "Analytics",
        "ANL",
        (
            _p("Analytics Studio", "ANL-STU", 1_800),
            _p("Analytics Embedded", "ANL-EMB", 3_100),
            _p("Data Lakehouse Connector", "ANL-LHC", 6_500),
        ),
        ("Banking", "Insurance", "Retail", "Telecommunications"),
    ),
    Family(
        "Security",
        "SEC",
        (
            _p("Identity Shield", "SEC-IDS", 950),
            _p("Threat Monitor", "SEC-TMN", 2_750),
            _p("Key Vault Appliance", "SEC-KVA", 18_000),
        ),
        ("Banking", "Insurance", "Government", "Healthcare"),
    ),
    Family(
        "Integration",
        "INT",
        (
            _p("Integration Hub", "INT-HUB", 3_400),
            _p("API Gateway", "INT-API", 2_100),
            _p("EDI Adapter", "INT-EDI", 1_500),
            _p("Event Streaming", "INT-EVS", 4_800),
        ),
        ("Manufacturing", "Transportation", "Retail", "Chemicals"),
    ),
    Family(
        "Cloud Infrastructure",
        "CLD",
        (
            _p("Compute Reserved Capacity", "CLD-CMP", 12_000),
            _p("Storage Tier", "CLD-STO", 4_000),
            _p("Edge Nodes", "CLD-EDG", 7_500),
        ),
        ("Technology", "Telecommunications", "Energy"),
    ),
    Family(
        "Managed Services",
        "MSV",
        (
            _p("Managed Operations", "MSV-OPS", 25_000),
            _p("Managed Security Service", "MSV-SEC", 30_000),
            _p("Hypercare", "MSV-HYP", 15_000),
        ),
        ("Government", "Healthcare", "Energy", "Food & Beverage"),
    ),
    Family(
        "Professional Services",
        "PSV",
        (
            _p("Implementation Day", "PSV-IMP", 1_600),
            _p("Architecture Review", "PSV-ARC", 9_500),
            _p("Migration Package", "PSV-MIG", 45_000),
        ),
        ("Manufacturing", "Chemicals", "Government", "Transportation"),
    ),
    Family(
        "Training",
        "TRN",
        (
            _p("Instructor-led Course", "TRN-ILT", 2_200),
            _p("E-learning Seat", "TRN-ELS", 350),
            _p("Certification Voucher", "TRN-CRT", 300),
        ),
        ("Healthcare", "Retail", "Government"),
    ),
    Family(
        "Support",
        "SUP",
        (
            _p("Premier Support", "SUP-PRE", 8_000),
            _p("Standard Support", "SUP-STD", 2_500),
        ),
        ("Manufacturing", "Banking", "Energy", "Telecommunications"),
    ),
    Family(
        "IoT",
        "IOT",
        (
            _p("Sensor Gateway", "IOT-GWY", 650),
            _p("Fleet Telematics", "IOT-FLT", 480),
            _p("Digital Twin", "IOT-DTW", 14_000),
        ),
        ("Manufacturing", "Energy", "Transportation", "Food & Beverage", "Chemicals"),
    ),
)

BUYING_ROLES: tuple[str, ...] = ("Decision Maker", "Influencer", "User", "Gatekeeper")
DECISION_MAKER = "Decision Maker"
TITLES: dict[str, tuple[str, ...]] = {
    "Decision Maker": (
        "Chief Executive Officer",
        "Chief Financial Officer",
        "Chief Information Officer",
        "VP Procurement",
        "Head of Operations",
        "Managing Director",
        "Chief Technology Officer",
    ),
    "Influencer": (
        "IT Director",
        "Head of Engineering",
        "Enterprise Architect",
        "Finance Director",
        "Plant Manager",
        "Head of Digital",
    ),
    "User": (
        "Business Analyst",
        "Operations Specialist",
        "Data Engineer",
        "Project Manager",
        "Controller",
        "Logistics Coordinator",
    ),
    "Gatekeeper": ("Executive Assistant", "Procurement Officer", "Office Manager", "Buyer"),
}
ROLE_WEIGHTS: tuple[float, ...] = (0.22, 0.30, 0.33, 0.15)

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "James",
        "Mary",
        "Robert",
        "Patricia",
        "Michael",
        "Jennifer",
        "David",
        "Linda",
        "Sarah",
        "Thomas",
        "Emily",
        "Daniel",
        "Olivia",
        "Chris",
        "Zoë",
        "Aaron",
        "Grace",
        "Liam",
    ),
    "de": (
        "Jürgen",
        "Anna",
        "Stefan",
        "Katrin",
        "Andreas",
        "Sabine",
        "Lukas",
        "Lena",
        "Matthias",
        "Julia",
        "Felix",
        "Birgit",
    ),
    "fr": (
        "Jean",
        "Marie",
        "Pierre",
        "Élodie",
        "Nicolas",
        "Camille",
        "François",
        "Chloé",
        "Luc",
        "Inès",
    ),
    "es": ("José", "María", "Carlos", "Lucía", "Javier", "Carmen", "Alejandro", "Sofía", "Diego"),
    "pt": ("João", "Ana", "Pedro", "Beatriz", "Tiago", "Mariana", "Rafael", "Luísa"),
    "it": ("Marco", "Giulia", "Luca", "Francesca", "Alessandro", "Chiara", "Matteo", "Sara"),
    "nl": ("Jan", "Sanne", "Pieter", "Femke", "Daan", "Lotte", "Joost"),
    "nordic": ("Erik", "Ingrid", "Lars", "Astrid", "Mikael", "Sofie", "Jukka", "Søren", "Åsa"),
    "ar": ("Omar", "Fatima", "Ahmed", "Layla", "Khalid", "Noura", "Yousef"),
    "ja": ("Hiroshi", "Yuki", "Takeshi", "Aiko", "Kenji", "Sakura", "Daisuke", "Haruka"),
    "zh": ("Wei", "Li", "Jun", "Mei", "Hao", "Xin", "Lei", "Yan"),
    "ko": ("Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Hyun-woo", "Ji-woo"),
    "in": ("Arjun", "Priya", "Rahul", "Ananya", "Vikram", "Deepa", "Sanjay", "Kavya"),
    "sea": ("Ahmad", "Siti", "Somchai", "Nguyen", "Budi", "Dewi", "Rizal"),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Miller",
        "Davis",
        "Wilson",
        "Taylor",
        "Anderson",
        "O'Brien",
        "Clarke",
        "Walker",
        "Wright",
        "Hughes",
        "Murphy",
    ),
    "de": (
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Zimmermann",
    ),
    "fr": ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux"),
    "es": ("García", "Rodríguez", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Fernández"),
    "pt": ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Ferreira"),
    "it": ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
    "nl": ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser"),
    "nordic": ("Andersson", "Johansson", "Hansen", "Nielsen", "Virtanen", "Lindqvist", "Berg"),
    "ar": ("Al-Farsi", "Haddad", "Al-Mansouri", "Nasser", "Khalil", "Saleh"),
    "ja": ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
    "zh": ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao"),
    "ko": ("Kim", "Lee", "Park", "Choi", "Jung", "Kang"),
    "in": ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Menon", "Rao"),
    "sea": ("Tan", "Lim", "Wong", "Rahman", "Santoso", "Tran", "Chaiyaporn"),
}
NAME_PREFIXES: tuple[str, ...] = (
    "Nord",
    "Sol",
    "Vert",
    "Atlas",
    "Blue",
    "Apex",
    "Terra",
    "Silver",
    "Stone",
    "Iron",
    "Bright",
    "Oak",
    "Ever",
    "Star",
    "North",
    "Cedar",
    "Pacific",
    "Alpine",
    "Crest",
    "Lumen",
    "Vita",
    "Orion",
    "Delta",
    "Summit",
    "Harbor",
    "Falcon",
    "Aurora",
    "Quantum",
    "Meridian",
    "Polar",
    "Nova",
    "Zen",
    "Kite",
    "Helix",
    "Granite",
    "Coral",
    "Amber",
    "Titan",
    "Vector",
    "Pioneer",
)
NAME_SUFFIXES: tuple[str, ...] = (
    "wind",
    "gate",
    "ridge",
    "tek",
    "field",
    "stream",
    "point",
    "wave",
    "line",
    "core",
    "bridge",
    "way",
    "light",
    "mark",
    "vale",
    "works",
    "path",
    "sphere",
    "port",
    "haven",
)
STREETS: dict[str, tuple[str, ...]] = {
    "en": (
        "Main Street",
        "Market Street",
        "High Street",
        "King Street",
        "Park Avenue",
        "Station Road",
        "Harbour Road",
    ),
    "de": ("Hauptstraße", "Bahnhofstraße", "Industriestraße", "Lindenweg", "Marktplatz"),
    "fr": ("rue de la Paix", "avenue Victor Hugo", "boulevard Haussmann", "rue du Commerce"),
    "es": ("Calle Mayor", "Avenida de la Constitución", "Paseo de Gracia"),
    "pt": ("Avenida Paulista", "Rua Augusta", "Avenida da Liberdade"),
    "it": ("Via Roma", "Corso Italia", "Via Garibaldi"),
    "nl": ("Keizersgracht", "Stationsplein", "Herengracht"),
    "nordic": ("Storgatan", "Drottninggatan", "Karl Johans gate", "Strøget"),
    "ar": ("Sheikh Zayed Road", "King Fahd Road", "Corniche Street"),
    "ja": ("Marunouchi", "Umeda", "Shinjuku"),
    "zh": ("Nanjing Road", "Chang'an Avenue", "Queen's Road"),
    "ko": ("Teheran-ro", "Sejong-daero"),
    "in": ("MG Road", "Nariman Point", "Connaught Place"),
    "sea": ("Orchard Road", "Jalan Ampang", "Sukhumvit Road", "Jalan Sudirman"),
}

# Salesforce opportunity stages: (name, probability, forecast category, Dataverse step name).
OPEN_STAGES: tuple[tuple[str, int, str, str], ...] = (
    ("Prospecting", 10, "Pipeline", "1-Qualify"),
    ("Qualification", 20, "Pipeline", "1-Qualify"),
    ("Needs Analysis", 30, "Pipeline", "2-Develop"),
    ("Value Proposition", 50, "Pipeline", "2-Develop"),
    ("Id. Decision Makers", 60, "Best Case", "3-Propose"),
    ("Proposal/Price Quote", 75, "Best Case", "3-Propose"),
    ("Negotiation/Review", 90, "Commit", "4-Close"),
)
WON_STAGE = ("Closed Won", 100, "Closed", "5-Close")
LOST_STAGE = ("Closed Lost", 0, "Omitted", "5-Close")
OPPORTUNITY_TYPES: tuple[str, ...] = (
    "New Customer",
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
)
CONTACT_ROLES: tuple[str, ...] = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
ACCOUNT_TYPES: tuple[str, ...] = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)
SUBJECTS: dict[str, tuple[str, ...]] = {
    "call": ("Check-in call", "Renewal call", "Follow-up call", "Pricing call", "Escalation call"),
    "meeting": (
        "Quarterly business review",
        "Roadmap briefing",
        "Account planning",
        "Demo",
        "Executive alignment",
    ),
    "visit": ("Site visit", "Plant tour", "On-site workshop", "Customer visit"),
    "email": ("Proposal sent", "Follow-up", "Meeting recap", "Contract draft", "Newsletter reply"),
    "task": (
        "Prepare QBR deck",
        "Update account plan",
        "Send quote",
        "Log requirements",
        "Chase purchase order",
    ),
}
