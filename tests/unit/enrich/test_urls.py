"""url_path_extract and url_path_agg on pass Culture pro portal URLs, tagged or not."""

from __future__ import annotations

import pytest

from ingest.enrich.urls import url_path_agg, url_path_extract

PRO = "https://passculture.pro"

# (page_location, url_path_extract, url_path_agg)
CASES: list[tuple[str | None, str | None, str | None]] = [
    (f"{PRO}/accueil", "/accueil", "/accueil"),
    (f"{PRO}/reservations", "/reservations", "/reservations"),
    (f"{PRO}/offres/collectives?page=2", "/offres/collectives", "/offres/collectives"),
    (f"{PRO}/offres/", "/offres", "/offres"),
    (f"{PRO}/", "/", "/"),
    (PRO, "/", "/"),
    (f"{PRO}/collectif/creation", "/collectif/creation", "/collectif/creation"),
    (f"{PRO}/guichet", "/guichet", "/guichet"),
    (
        f"{PRO}/remboursements/justificatifs",
        "/remboursements/justificatifs",
        "/remboursements/justificatifs",
    ),
    # humanized ids
    (
        f"{PRO}/offre/individuelle/A9KSA/recapitulatif",
        "/offre/individuelle/A9KSA/recapitulatif",
        "/offre/individuelle/{id}/recapitulatif",
    ),
    (f"{PRO}/offre/A9KSA/edition", "/offre/A9KSA/edition", "/offre/{id}/edition"),
    (
        f"{PRO}/structures/AEWQ/lieux/BF9Q",
        "/structures/AEWQ/lieux/BF9Q",
        "/structures/{id}/lieux/{id}",
    ),
    (
        f"{PRO}/structures/AEWQ/lieux/creation",
        "/structures/AEWQ/lieux/creation",
        "/structures/{id}/lieux/creation",
    ),
    (f"{PRO}/parametres/AEWQ/", "/parametres/AEWQ", "/parametres/{id}"),
    (f"{PRO}/offres/vitrines/AE", "/offres/vitrines/AE", "/offres/vitrines/{id}"),
    # numeric ids, template ids, UUIDs
    (
        f"{PRO}/offre/individuelle/12345/informations?utm_source=brevo&utm_medium=email",
        "/offre/individuelle/12345/informations",
        "/offre/individuelle/{id}/informations",
    ),
    (
        f"{PRO}/offre/collectif/vitrine/5678/creation/recapitulatif",
        "/offre/collectif/vitrine/5678/creation/recapitulatif",
        "/offre/collectif/vitrine/{id}/creation/recapitulatif",
    ),
    (
        f"{PRO}/offre/T-5678/collectif/recapitulatif",
        "/offre/T-5678/collectif/recapitulatif",
        "/offre/T-{id}/collectif/recapitulatif",
    ),
    (
        f"{PRO}/offre/T-A9KSA/collectif/edition",
        "/offre/T-A9KSA/collectif/edition",
        "/offre/T-{id}/collectif/edition",
    ),
    (
        "https://integration.passculture.pro/structures/1234/lieux/567?utm_campaign=relance",
        "/structures/1234/lieux/567",
        "/structures/{id}/lieux/{id}",
    ),
    (
        f"{PRO}/inscription/validation/550e8400-e29b-41d4-a716-446655440000",
        "/inscription/validation/550e8400-e29b-41d4-a716-446655440000",
        "/inscription/validation/{uuid}",
    ),
    # campaign parameters and fragments never reach the path
    (f"{PRO}/offre/creation?xtor=EPR-14234", "/offre/creation", "/offre/creation"),
    (
        f"{PRO}/reservations/collectives#xtor=AD-7880",
        "/reservations/collectives",
        "/reservations/collectives",
    ),
    (f"{PRO}/accueil?gclid=EAIaIQobChMI8&utm_term=pass", "/accueil", "/accueil"),
    (
        f"{PRO}/offre/individuelle/A9KSA/stocks?structure=AEWQ",
        "/offre/individuelle/A9KSA/stocks",
        "/offre/individuelle/{id}/stocks",
    ),
    (f"{PRO}/connexion?de=%2Foffres", "/connexion", "/connexion"),
    # words that look like ids but are not: lower case, mixed case, digits inside a word
    (f"{PRO}/offres/page2", "/offres/page2", "/offres/page2"),
    (f"{PRO}/Offres/Collectives", "/Offres/Collectives", "/Offres/Collectives"),
    # escapes kept as sent
    (
        f"{PRO}/recherche/th%C3%A9%C3%A2tre",
        "/recherche/th%C3%A9%C3%A2tre",
        "/recherche/th%C3%A9%C3%A2tre",
    ),
    # a bare path, and nothing usable
    ("/offres/collectives?page=2", "/offres/collectives", "/offres/collectives"),
    ("https://[::1", None, None),
    ("", None, None),
    (None, None, None),
]


@pytest.mark.parametrize(("url", "path", "agg"), CASES, ids=[str(case[0]) for case in CASES])
def test_path_and_aggregate(url: str | None, path: str | None, agg: str | None) -> None:
    assert url_path_extract(url) == path
    assert url_path_agg(url_path_extract(url)) == agg


@pytest.mark.parametrize(
    ("path", "agg"),
    [
        ("/", "/"),
        ("", None),
        (None, None),
        ("/structures/42", "/structures/{id}"),
        ("/offres/creation", "/offres/creation"),
        ("/offre/AOK", "/offre/AOK"),  # O is not in the humanized alphabet
    ],
)
def test_url_path_agg_on_paths(path: str | None, agg: str | None) -> None:
    assert url_path_agg(path) == agg


def test_repeated_inputs_are_served_from_the_cache() -> None:
    url = f"{PRO}/offre/individuelle/A9KSA/recapitulatif?cache-test"
    misses = url_path_extract.cache_info().misses
    url_path_extract(url)
    url_path_extract(url)
    assert url_path_extract.cache_info().misses == misses + 1  # computed once
