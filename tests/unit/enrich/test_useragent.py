"""parse_user_agent on real agents: category rules, ua-parser's names, "major.minor.patch"."""

from __future__ import annotations

import pytest

from ingest.enrich.useragent import Device, make_user_agent_parser, parse_user_agent

CASES: list[tuple[str, str | None, Device]] = [
    # --- desktop: Windows, macOS, Linux, ChromeOS
    (
        "chrome-windows",
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.6099.109 Safari/537.36"),
        Device("desktop", "Windows", "10", "Chrome", "120.0.6099"),
    ),
    (
        "firefox-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Device("desktop", "Windows", "10", "Firefox", "121.0"),
    ),
    (
        "edge-windows",
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"),
        Device("desktop", "Windows", "10", "Edge", "120.0.2210"),
    ),
    (
        "ie11-windows7",
        "Mozilla/5.0 (Windows NT 6.1; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
        Device("desktop", "Windows", "7", "IE", "11.0"),
    ),
    (
        "opera-windows",
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"),
        Device("desktop", "Windows", "10", "Opera", "105.0.0"),
    ),
    (
        "safari-macos",
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.2 Safari/605.1.15"),
        Device("desktop", "Mac OS X", "10.15.7", "Safari", "17.2"),
    ),
    (
        "chrome-macos",
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36"),
        Device("desktop", "Mac OS X", "10.15.7", "Chrome", "120.0.0"),
    ),
    (
        "firefox-macos",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
        Device("desktop", "Mac OS X", "10.15", "Firefox", "121.0"),
    ),
    (
        "edge-macos",
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"),
        Device("desktop", "Mac OS X", "10.15.7", "Edge", "120.0.2210"),
    ),
    (
        "chrome-linux",
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36"),
        Device("desktop", "Linux", None, "Chrome", "120.0.0"),
    ),
    (
        "firefox-ubuntu",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Device("desktop", "Ubuntu", None, "Firefox", "121.0"),
    ),
    (
        "chrome-chromeos",
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36"),
        Device("desktop", "Chrome OS", "14541.0.0", "Chrome", "120.0.0"),
    ),
    # --- desktop by default: TVs and consoles have no category of their own
    (
        "samsung-smart-tv",
        ("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"),
        Device("desktop", "Tizen", "6.0", "Samsung Internet", "4.0"),
    ),
    # --- phones
    (
        "safari-iphone",
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"),
        Device("mobile", "iOS", "17.2.1", "Mobile Safari", "17.2"),
    ),
    (
        "chrome-iphone",
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"),
        Device("mobile", "iOS", "16.6", "Chrome Mobile iOS", "120.0.6099"),
    ),
    (
        "chrome-android-reduced-ua",
        ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Mobile Safari/537.36"),
        Device("mobile", "Android", "10", "Chrome Mobile", "120.0.0"),
    ),
    (
        "chrome-galaxy-s23",
        ("Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.6099.144 Mobile Safari/537.36"),
        Device("mobile", "Android", "13", "Chrome Mobile", "120.0.6099"),
    ),
    (
        "samsung-internet-phone",
        ("Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"),
        Device("mobile", "Android", "13", "Samsung Internet", "23.0"),
    ),
    (
        "firefox-android-phone",
        "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
        Device("mobile", "Android", "14", "Firefox Mobile", "121.0"),
    ),
    (
        "instagram-in-app-android",
        ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 "
         "Instagram 311.0.0.32.118 Android"),
        Device("mobile", "Android", "13", "Instagram", "311.0.0"),
    ),
    (
        "edge-windows-phone",
        ("Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977"),
        Device("mobile", "Windows Phone", "10.0", "Edge Mobile", "15.14977"),
    ),
    (
        "kaios-feature-phone",
        "Mozilla/5.0 (Mobile; rv:48.0; Nokia 8110 4G) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
        Device("mobile", "KaiOS", "2.5", "Firefox Mobile", "48.0"),
    ),
    # --- tablets: iPad, Android without "Mobile", Kindle/Silk
    (
        "safari-ipad",
        ("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.2 Mobile/15E148 Safari/604.1"),
        Device("tablet", "iOS", "17.2", "Mobile Safari", "17.2"),
    ),
    (
        "chrome-ipad",
        ("Mozilla/5.0 (iPad; CPU OS 16_7_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"),
        Device("tablet", "iOS", "16.7.2", "Chrome Mobile iOS", "120.0.6099"),
    ),
    (
        "chrome-galaxy-tab-s9",
        ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36"),
        Device("tablet", "Android", "13", "Chrome", "120.0.0"),
    ),
    (
        "samsung-internet-tablet",
        ("Mozilla/5.0 (Linux; Android 12; SAMSUNG SM-T220) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36"),
        Device("tablet", "Android", "12", "Samsung Internet", "22.0"),
    ),
    (
        "firefox-android-tablet",
        "Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
        Device("tablet", "Android", "13", "Firefox Mobile", "121.0"),
    ),
    (
        "silk-kindle-fire",
        ("Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Silk/120.3.1 like Chrome/120.0.6099.216 Safari/537.36"),
        Device("tablet", "Android", "11", "Amazon Silk", "120.3.1"),
    ),
    # --- bots: uap-core's "Spider" family, plus automation it doesn't flag
    (
        "googlebot",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        Device("bot", None, None, "Googlebot", "2.1"),
    ),
    (
        "googlebot-smartphone",
        ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 "
         "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        Device("bot", "Android", "6.0.1", "Googlebot", "2.1"),
    ),
    (
        "bingbot",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        Device("bot", None, None, "bingbot", "2.0"),
    ),
    (
        "yandexbot",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        Device("bot", None, None, "YandexBot", "3.0"),
    ),
    (
        "baiduspider",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        Device("bot", None, None, "Baiduspider", "2.0"),
    ),
    (
        "duckduckbot",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        Device("bot", None, None, "DuckDuckBot", "1.1"),
    ),
    (
        "applebot",
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"),
        Device("bot", "Mac OS X", "10.15.5", "Applebot", "0.1"),
    ),
    (
        "facebook-link-preview",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        Device("bot", None, None, "FacebookBot", "1.1"),
    ),
    (
        "ahrefsbot",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        Device("bot", None, None, "AhrefsBot", "7.0"),
    ),
    (
        "gptbot",
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
         "+https://openai.com/gptbot)"),
        Device("bot", None, None, "GPTBot", "1.0"),
    ),
    (
        "bytespider-looks-like-a-phone",
        ("Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)"),
        Device("bot", "Android", "5.0", "Bytespider", None),
    ),
    (
        "headless-chrome",
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/120.0.6099.28 Safari/537.36"),
        Device("bot", "Windows", "10", "HeadlessChrome", "120.0.6099"),
    ),
    (
        "lighthouse",
        ("Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"),
        Device("bot", "Android", "11", "Chrome Mobile", "120.0.0"),
    ),
    ("curl", "curl/8.4.0", Device("bot", None, None, "curl", "8.4.0")),
    (
        "python-requests",
        "python-requests/2.31.0",
        Device("bot", None, None, "Python Requests", "2.31"),
    ),
    # --- nothing to parse
    ("empty", "", Device(None, None, None, None, None)),
    ("none", None, Device(None, None, None, None, None)),
    ("blank", "   ", Device(None, None, None, None, None)),
    ("unknown-agent", "acme-widget", Device("desktop", None, None, None, None)),
]


@pytest.mark.parametrize(
    ("ua", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_parse_user_agent(ua: str | None, expected: Device) -> None:
    assert parse_user_agent(ua) == expected


def test_repeated_agent_is_served_from_the_cache() -> None:
    parse = make_user_agent_parser(cache_size=2)
    ua = CASES[0][1]
    first = parse(ua)
    assert parse(ua) is first
    assert parse.cache_info().misses == 1  # type: ignore[attr-defined]
    assert parse.cache_info().maxsize == 2  # type: ignore[attr-defined]
