"""The multimodal chapter (ours): the same Allen mouse VISp cells, morphology and electrophysiology, each alone and fused."""
