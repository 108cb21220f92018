"""magistrate.servers"""
