from vinylmon.cli import main

raise SystemExit(main())
