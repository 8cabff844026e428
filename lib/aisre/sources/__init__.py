"""aisre.sources"""
