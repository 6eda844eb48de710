"""The local loop: run runtimes as Lambda would, under the real RIE (tooling, not runtime)."""
