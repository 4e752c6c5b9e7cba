"""Local API-compatible sandboxes (Salesforce, later Asana) that stand alone like a real org."""
