"""aisre.knowledge"""
