"""Reporters: each turns a disclosure document into one output, and none reads hardware.

text (terminal summary), markdown (model cards), html (one self-contained page), label
(PNG/SVG energy label), table (pandas/CSV), compare (many disclosures side by side),
bench (benchmark suite summaries).
"""
