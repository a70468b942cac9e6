"""Product text: normalisation, a pretrained sentence encoder, embeddings, similar products,
user text profiles, cold items served on day one, and product families (see docs/embeddings.md)."""
