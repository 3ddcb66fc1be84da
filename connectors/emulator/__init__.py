"""A loopback emulator of Salesforce and Dataverse, seeded with a synthetic KAM world."""
