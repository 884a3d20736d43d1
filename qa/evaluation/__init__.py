"""`qa eval`: retrieval and answer metrics over eval/questions.jsonl, for gazette-qa and a plain LangChain baseline."""
