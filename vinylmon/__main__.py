from vinylmon.cli.main import main

raise SystemExit(main())
