"""The objects, fields, picklists and relationships orgforge generates (Salesforce names)."""
