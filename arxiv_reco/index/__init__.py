"""The index: a corpus embedded by a model, searched for a paper, a text or a reading list.

    index, added = index_papers("finetuned-arxiv-recommender", papers, "index/")
    index.similar("2401.01234", k=10); index.search("graph neural networks for molecules")

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.index.build import index_papers
    from arxiv_reco.index.paper_index import IndexMismatchError, PaperIndex
    from arxiv_reco.index.words import WordIndex

The modules:

- ``abstracts``: The abstracts an index keeps of its own papers, in shards linked on save
- ``build``: The `index` step: a corpus indexed into a folder, built once, then appended to, resumable
- ``paper_index``: Recommend related papers: an index of the corpus embedded by the (fine-tuned) model
- ``search``: Vector search over an index's embeddings: which rows are each query's best candidates
- ``words``: The words and the people of every paper in an index, kept beside its embeddings: what …
"""
