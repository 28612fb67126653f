"""The demo world of PRODUCT.md, seeded through the products' services (`ccare seed`)."""
