from vellet.cli import main

raise SystemExit(main())
