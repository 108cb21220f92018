from legal_agent import main
await main()
