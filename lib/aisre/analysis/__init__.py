"""aisre.analysis"""
