"""Cost of the enrichment functions on realistic, repeated inputs (a script, not a test).

    PYTHONPATH=functions python benchmarks/enrich_bench.py [--calls 200000]

Inputs are drawn Zipf-like (a few agents and pages make most of the traffic) from 50 user
agents, 500 page URLs and 40 referrers. Each function is timed on the same draws, cache warm
(steady state) and, for reference, uncached on the distinct inputs. Times include the Python loop.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

from ingest.enrich import origin as origin_module
from ingest.enrich.origin import Origin, compute_origin, traffic_fields
from ingest.enrich.urls import url_path_agg, url_path_extract
from ingest.enrich.useragent import parse_user_agent, parse_user_agent_uncached

SITE_HOSTS = frozenset({"passculture.pro", "pro.passculture.app"})
RUNS = 3

_UA_TEMPLATES = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.2210.91"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.{m} Safari/605.1.15"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Mobile Safari/537.36"),
    ("Mozilla/5.0 (iPad; CPU OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.{m} Mobile/15E148 Safari/604.1"),
    ("Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/{m}.0 Chrome/115.0.0.0 Mobile Safari/537.36"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36"),
    "Mozilla/5.0 (compatible; Googlebot/2.{m}; +http://www.google.com/bot.html)",
)

_PAGES = (
    "/accueil",
    "/reservations",
    "/offres",
    "/offres/collectives",
    "/offre/individuelle/{id}/recapitulatif",
    "/offre/individuelle/{id}/stocks",
    "/offre/{hid}/collectif/edition",
    "/structures/{hid}/lieux/{hid2}",
    "/remboursements/justificatifs",
    "/guichet",
)

_QUERIES = (
    "",
    "",
    "",
    "?page=2",
    "?utm_source=brevo&utm_medium=email&utm_campaign=relance",
    "#xtor=EPR-14234",
    "?gclid=EAIaIQobChMI8",
)

_REFERRERS: tuple[str | None, ...] = (
    *(f"https://passculture.pro/offres?page={n}" for n in range(20)),
    *(f"https://passculture.pro/structures/{n}/lieux" for n in range(10)),
    None,
    "https://www.google.com/",
    "https://www.google.fr/",
    "https://l.facebook.com/",
    "https://www.linkedin.com/feed/",
    "https://www.bing.com/search?q=pass+culture+pro",
    "https://mail.google.com/",
    "https://www.education.gouv.fr/adage",
    "https://duckduckgo.com/",
    "https://lemonde.fr/culture/pass",
)


def user_agents() -> list[str]:
    """50 distinct agents: 10 families x 5 versions."""
    return [t.format(v=116 + i, m=i) for t in _UA_TEMPLATES for i in range(5)]


def page_locations(rng: random.Random) -> list[str]:
    """500 distinct page URLs of the pro portal, some tagged."""
    urls: set[str] = set()
    while len(urls) < 500:
        page = rng.choice(_PAGES).format(
            id=rng.randrange(1, 10**6), hid="A9KSA", hid2=f"B{rng.randrange(10, 99)}Q"
        )
        urls.add(f"https://passculture.pro{page}{rng.choice(_QUERIES)}")
    return sorted(urls)


def zipf_draws(population: Sequence[str | None], n: int, rng: random.Random) -> list[str | None]:
    """``n`` draws where the k-th most frequent item has weight 1/k."""
    weights = [1 / rank for rank in range(1, len(population) + 1)]
    return rng.choices(population, weights=weights, k=n)


def compute_origin_uncached(
    page_location: str | None, page_referrer: str | None, site_hosts: frozenset[str]
) -> Origin | None:
    """compute_origin without its two per-part caches (reached through the private names)."""
    return origin_module._url_origin.__wrapped__(page_location) or (
        origin_module._referrer_origin.__wrapped__(page_referrer, site_hosts)
    )


def noop(*_: object) -> None:
    """The loop alone, to subtract from the other rows."""


def each(function: Callable[..., object], inputs: Sequence[object]) -> Callable[[], None]:
    """A run of ``function`` over ``inputs``; a tuple input is spread over the arguments."""

    def run() -> None:
        for item in inputs:
            function(*item) if isinstance(item, tuple) else function(item)

    return run


def timed(run: Callable[[], None]) -> float:
    """Median seconds of ``RUNS`` runs."""
    durations = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def report(name: str, run: Callable[[], None], calls: int) -> None:
    seconds = timed(run)
    print(f"{name:<34} {seconds / calls * 1e6:8.2f} µs/call {calls / seconds:13,.0f} calls/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    agents, urls = user_agents(), page_locations(rng)
    paths = [url_path_extract(url) for url in urls]
    ua_draws = zipf_draws(agents, args.calls, rng)
    url_draws = zipf_draws(urls, args.calls, rng)
    path_draws = [url_path_extract(url) for url in url_draws]
    origin_draws = [
        (url, referrer, SITE_HOSTS)
        for url, referrer in zip(url_draws, zipf_draws(_REFERRERS, args.calls, rng), strict=True)
    ]
    origins = [compute_origin(*draw) for draw in origin_draws]
    print(f"{args.calls:,} calls drawn from {len(agents)} agents, {len(urls)} URLs, "
          f"{len(_REFERRERS)} referrers; median of {RUNS} runs")

    def event(ua: str, url: str, referrer: str | None) -> None:
        parse_user_agent(ua)
        url_path_agg(url_path_extract(url))
        traffic_fields(compute_origin(url, referrer, SITE_HOSTS))

    event_draws = [(ua, url, ref) for ua, (url, ref, _) in zip(ua_draws, origin_draws, strict=True)]

    print("\nuncached, once per distinct input (the cost of a cache miss)")
    parse_user_agent_uncached(agents[0])  # builds the parser (~0.2 s), outside the timing
    report("parse_user_agent", each(parse_user_agent_uncached, agents), len(agents))
    report("url_path_extract", each(url_path_extract.__wrapped__, urls), len(urls))
    report("url_path_agg", each(url_path_agg.__wrapped__, paths), len(paths))
    distinct_pairs = sorted(set(origin_draws), key=str)
    report("compute_origin", each(compute_origin_uncached, distinct_pairs), len(distinct_pairs))

    print("\ncached, Zipf-like repeated inputs (steady state: caches warm)")
    each(event, event_draws)()
    report("parse_user_agent", each(parse_user_agent, ua_draws), args.calls)
    report("url_path_extract", each(url_path_extract, url_draws), args.calls)
    report("url_path_agg", each(url_path_agg, path_draws), args.calls)
    report("compute_origin", each(compute_origin, origin_draws), args.calls)
    report("traffic_fields", each(traffic_fields, [(o,) for o in origins]), args.calls)  # an Origin is a tuple
    report("all of them, per event", each(event, event_draws), args.calls)
    report("(loop overhead: a no-op function)", each(noop, ua_draws), args.calls)


if __name__ == "__main__":
    main()
