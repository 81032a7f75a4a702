"""compute_origin (mediarithmics rules: UTM, gclid, xtor, referrer) and traffic_fields."""

from __future__ import annotations

import pytest

from ingest.enrich.origin import Origin, compute_origin, traffic_fields

SITE = frozenset({"passculture.pro", "pro.passculture.app"})
LANDING = "https://passculture.pro/accueil"
DIRECT = Origin(channel="direct", source="(direct)")


def organic(engine: str, keywords: str | None = None) -> Origin:
    return Origin(channel="organic", source=engine, keywords=keywords)


def social(network: str) -> Origin:
    return Origin(channel="social", source=network, social_network=network)


def referral(host: str, path: str) -> Origin:
    return Origin(channel="referral", source=host, referral_path=path)


# (page_referrer, origin of a landing page without campaign parameters)
REFERRERS: list[tuple[str | None, Origin | None]] = [
    # search engines
    ("https://www.google.com/", organic("google")),
    ("https://www.google.fr/", organic("google")),
    ("https://www.google.co.uk/", organic("google")),
    ("https://www.google.com.br/", organic("google")),
    (
        "android-app://com.google.android.googlequicksearchbox/https/www.google.com",
        organic("google"),
    ),
    ("https://www.bing.com/search?q=pass+culture+pro", organic("bing", "pass culture pro")),
    ("https://fr.search.yahoo.com/search?p=adage", organic("yahoo", "adage")),
    ("https://duckduckgo.com/", organic("duckduckgo")),
    ("https://www.qwant.com/?q=pass%20culture", organic("qwant", "pass culture")),
    ("https://www.ecosia.org/search?q=offre+collective", organic("ecosia", "offre collective")),
    ("https://yandex.ru/", organic("yandex")),
    ("https://www.baidu.com/s?wd=culture", organic("baidu", "culture")),
    # social networks
    ("https://l.facebook.com/", social("facebook")),
    ("https://m.facebook.com/", social("facebook")),
    ("https://www.instagram.com/", social("instagram")),
    ("https://www.linkedin.com/feed/", social("linkedin")),
    ("android-app://com.linkedin.android/", social("linkedin")),
    ("https://t.co/abc123", social("twitter")),
    ("https://x.com/", social("twitter")),
    ("https://www.youtube.com/watch?v=abc", social("youtube")),
    ("https://www.tiktok.com/", social("tiktok")),
    ("https://fr.pinterest.com/", social("pinterest")),
    ("https://www.snapchat.com/", social("snapchat")),
    ("https://out.reddit.com/t3_abc", social("reddit")),
    # other sites: host without www., path without query
    ("https://mail.google.com/", referral("mail.google.com", "/")),
    (
        "https://www.lemonde.fr/culture/article/2024/01/01/pass-culture.html?x=1",
        referral("lemonde.fr", "/culture/article/2024/01/01/pass-culture.html"),
    ),
    ("https://education.gouv.fr", referral("education.gouv.fr", "/")),
    ("https://adage.education.gouv.fr:8443/app", referral("adage.education.gouv.fr", "/app")),
    ("https://passculture.app/", referral("passculture.app", "/")),
    ("https://notpassculture.pro/", referral("notpassculture.pro", "/")),
    # the site itself, subdomains included: no new origin
    ("https://passculture.pro/offres", None),
    ("https://www.passculture.pro/", None),
    ("https://integration.passculture.pro/accueil", None),
    ("https://PRO.passculture.app/x", None),
    # no usable referrer
    (None, DIRECT),
    ("", DIRECT),
    ("about:blank", DIRECT),
    ("https://[::1", DIRECT),
]


@pytest.mark.parametrize(("referrer", "expected"), REFERRERS, ids=[str(r) for r, _ in REFERRERS])
def test_origin_from_referrer(referrer: str | None, expected: Origin | None) -> None:
    assert compute_origin(LANDING, referrer, SITE) == expected


GOOGLE = "https://www.google.com/"
FACEBOOK = "https://l.facebook.com/"
INTERNAL = "https://passculture.pro/offres"

# (page_location, page_referrer, origin): URL parameters win over the referrer
PRECEDENCE: list[tuple[str | None, str | None, Origin | None]] = [
    (
        (f"{LANDING}?utm_source=brevo&utm_medium=email&utm_campaign=newsletter_janvier"
         "&utm_content=bouton&utm_term=sport+shoes"),
        GOOGLE,
        Origin(
            channel="email",
            source="brevo",
            campaign_name="newsletter_janvier",
            creative_name="bouton",
            keywords="sport shoes",
        ),
    ),
    (
        f"{LANDING}?utm_source=brevo&utm_medium=email&utm_id=812",
        INTERNAL,
        Origin(channel="email", source="brevo", campaign_id="812"),
    ),
    (
        f"{LANDING}?utm_campaign=rentree",
        None,
        Origin(campaign_name="rentree"),
    ),
    # a blank UTM parameter is no parameter: the referrer decides
    (f"{LANDING}?utm_source=&utm_medium=%20", GOOGLE, organic("google")),
    (
        f"{LANDING}?gclid=EAIaIQobChMI8",
        GOOGLE,
        Origin(channel="cpc", source="google", gclid="EAIaIQobChMI8"),
    ),
    # gclid fills what UTM leaves out, and is always kept
    (
        f"{LANDING}?utm_source=newsletter&gclid=abc",
        None,
        Origin(channel="cpc", source="newsletter", gclid="abc"),
    ),
    (
        f"{LANDING}?utm_medium=display&gclid=abc",
        None,
        Origin(channel="display", source="google", gclid="abc"),
    ),
    # xtor: source code → channel, campaign id; in the query or after "#"
    (
        f"{LANDING}?xtor=EPR-14234",
        FACEBOOK,
        Origin(channel="email", source="EPR", campaign_id="14234"),
    ),
    (
        f"{LANDING}#xtor=AD-7880",
        GOOGLE,
        Origin(channel="display", source="AD", campaign_id="7880"),
    ),
    (
        f"{LANDING}?page=2#xtor=EREC-509-[newsletter]-20240101",
        None,
        Origin(channel="email", source="EREC", campaign_id="509"),
    ),
    (f"{LANDING}?xtor=SEC-31-GOO-[culture]", None, Origin("cpc", "SEC", campaign_id="31")),
    (f"{LANDING}?xtor=AL-1204", None, Origin("affiliate", "AL", campaign_id="1204")),
    (f"{LANDING}?xtor=ES-77", None, Origin("email", "ES", campaign_id="77")),
    (f"{LANDING}?xtor=RSS-5", None, Origin("rss", "RSS", campaign_id="5")),
    (f"{LANDING}?xtor=epr-3", None, Origin("email", "EPR", campaign_id="3")),
    (f"{LANDING}?xtor=AL", None, Origin("affiliate", "AL")),
    (f"{LANDING}?xtor=CS1-42", None, Origin(None, "CS1", campaign_id="42")),
    (f"{LANDING}?xtor=-42", GOOGLE, organic("google")),
    # between URL parameters: UTM, then gclid, then xtor
    (
        f"{LANDING}?xtor=EPR-14234&utm_source=brevo&utm_medium=email",
        None,
        Origin(channel="email", source="brevo"),
    ),
    (
        f"{LANDING}?xtor=AD-7880&gclid=abc",
        None,
        Origin(channel="cpc", source="google", gclid="abc"),
    ),
    # internal navigation without parameters: no new origin
    (f"{LANDING}?page=2", INTERNAL, None),
    (None, INTERNAL, None),
    (None, None, DIRECT),
]


@pytest.mark.parametrize(
    ("location", "referrer", "expected"), PRECEDENCE, ids=[str(p[0]) for p in PRECEDENCE]
)
def test_url_parameters_win_over_referrer(
    location: str | None, referrer: str | None, expected: Origin | None
) -> None:
    assert compute_origin(location, referrer, SITE) == expected


@pytest.mark.parametrize(
    ("origin", "fields"),
    [
        (None, (None, None, None)),
        (DIRECT, (None, "direct", "(direct)")),
        (
            Origin(channel="email", source="brevo", campaign_name="relance", campaign_id="812"),
            ("relance", "email", "brevo"),
        ),
        (Origin(channel="email", source="EPR", campaign_id="14234"), ("14234", "email", "EPR")),
        (social("instagram"), (None, "social", "instagram")),
    ],
)
def test_traffic_fields(
    origin: Origin | None, fields: tuple[str | None, str | None, str | None]
) -> None:
    assert traffic_fields(origin) == fields


def test_repeated_inputs_are_served_from_the_cache() -> None:
    location = f"{LANDING}?utm_source=cache-test"
    assert compute_origin(location, GOOGLE, SITE) is compute_origin(location, GOOGLE, SITE)
    assert compute_origin(LANDING, GOOGLE, SITE) is compute_origin(LANDING, GOOGLE, SITE)
