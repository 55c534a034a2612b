"""Exchange with other tools' formats: BoAmps reports out, CodeCarbon emissions.csv in.

    from greenai.interop.boamps import to_boamps
    from greenai.interop.codecarbon import from_codecarbon_csv

Each module is a pure translation of documents; none reads hardware or the network.
"""
