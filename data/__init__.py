"""Published numbers, cross-section tables and analysis metadata (shipped as recast.data)."""
