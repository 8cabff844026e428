"""aisre.notify"""
