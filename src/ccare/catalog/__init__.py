"""Catalog: merchants' mini-programs (storefronts) and the goods and services they sell."""
