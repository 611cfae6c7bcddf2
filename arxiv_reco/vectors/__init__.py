"""Vectors: model names to loaded models, and texts to normalised embeddings (fast where the CPU allows).

    model = load_model("sentence-transformers/all-MiniLM-L6-v2"); emb = encode(model, texts)

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.vectors.embed import embed_texts, encode
    from arxiv_reco.vectors.models import load_model, resolve_model

The modules:

- ``backends``: How a sentence-transformer runs when it only encodes (indexing, evaluation, the teacher, queries)
- ``cache``: Embeddings kept per model, so a paper is encoded once: the teacher's vectors from labelling are the …
- ``embed``: Papers into vectors: the one place the package encodes text with a sentence-transformer
- ``models``: Model names -> loaded sentence-transformers models, resolved the way the Hugging Face ecosystem does
- ``offline``: Installed copies of hub models, for machines where the Hugging Face Hub cannot be reached
"""
