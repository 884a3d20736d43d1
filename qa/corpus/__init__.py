"""Gazette corpus: parse issues into documents, paragraphs and sections; cut citable chunks."""
