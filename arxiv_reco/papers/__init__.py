"""Papers: the Kaggle snapshot streamed, sampled and kept as a corpus (one schema, one text recipe).

    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    save_papers(papers, "papers.parquet"); papers = read_papers("papers.parquet")

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.papers.corpus import CategoryFilter, PAPER_COLUMNS, base_id, canonical_id, paper_text, valid_date
    from arxiv_reco.papers.files import read_papers, save_papers
    from arxiv_reco.papers.sampler import sample_papers
    from arxiv_reco.papers.snapshot import iter_papers, load_papers

The modules:

- ``corpus``: The corpus: the paper schema, the one text recipe, the category filter, ids and dates
- ``files``: The corpus on disk: Parquet written atomically, read back (or a Kaggle JSON Lines file read)
- ``sampler``: A seeded random sample of a 4.6 GB snapshot in one pass, with flat memory, on every core
- ``scan``: The snapshot at the byte level: files opened whatever their packing, read in fixed blocks of whole …
- ``snapshot``: Read the Kaggle arXiv snapshot (JSON Lines, plain/.gz/.zip): checks, streaming, the load report
"""
