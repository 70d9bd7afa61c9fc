"""Provider layer: Google Vertex AI (Gemini tuning over google-genai, data staged in GCS)."""
